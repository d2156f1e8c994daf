"""``gosd agent``: configuration errors are clear messages and exit code 2, not tracebacks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import msgspec
import pytest

from edge_agent.cli import main
from edge_agent.drivers import DriverConfigError, load_driver
from edge_agent.link import Backoff, parse_broker_url
from shared import agent_config
from shared.agent_config import ConfigError, DriverSection

GOOD = '[node]\nid = 3\nsecret = "s"\n[broker]\nurl = "mqtt://127.0.0.1:9"\n'


def run(tmp_path: Path, text: str | None, *extra: str) -> int:
    path = tmp_path / "agent.toml"
    if text is not None:
        path.write_text(text)
    return main(["--config", str(path), *extra])


@pytest.mark.parametrize(
    ("text", "extra", "expected"),
    [
        (None, (), "cannot read"),
        ("[node\n", (), "not valid TOML"),
        ('[node]\nid = "x"\nsecret = "s"\n', (), "node.id"),
        ("[node]\nid = 0\nsecret = 's'\n", (), "positive"),
        ('[node]\nid = 3\nsecret = "s"\ncolour = 1\n', (), "colour"),
        (GOOD + '[driver]\nkind = "warp"\n', (), "unknown driver kind 'warp'"),
        (GOOD, ("--driver", "warp"), "unknown driver kind 'warp'"),
        (GOOD + "[driver.fake]\nsteps = 0\n", (), "driver.fake: steps must be >= 1"),
        (GOOD + "[driver.fake]\nsteps = 'many'\n", (), "driver.fake"),
        (GOOD + "[driver.settings]\nsteps = 0\n", (), "steps must be >= 1"),  # old format
        (GOOD + "[driver]\nsettings = 3\n", (), "driver.settings must be a table"),
        (
            GOOD + "[driver.settings]\nsteps = 2\n[driver.fake]\nsteps = 3\n",
            (),
            "both [driver.settings] and [driver.fake]",
        ),
        (GOOD + "[driver.warp]\nx = 1\n", (), "warp"),
        ('[node]\nid = 3\nsecret = "s"\n[broker]\nurl = "http://x"\n', (), "broker.url"),
        (GOOD.replace("mqtt://127.0.0.1:9", "mqtt://h:99999"), (), "bad port"),
        (GOOD + "[agent]\ntelemetry_hz = 0\n", (), "telemetry_hz"),
        (GOOD, ("--log-level", "LOUD"), "not a level"),
        (GOOD + '[driver]\nkind = "mavsdk"\n[driver.mavsdk]\nconnection = "x"\n', (), "URL"),
        (GOOD + '[driver]\nkind = "mavsdk"\n[driver.settings]\nconnection = "x"\n', (), "URL"),
        (GOOD + '[driver.mavsdk]\nconnection = "x"\n', ("--driver", "mavsdk"), "URL"),
        (
            GOOD + '[driver]\nkind = "mavsdk"\n[driver.mavsdk]\nconnection = "warp://x"\n',
            (),
            "CONNECTION_URL_INVALID",
        ),
    ],
)
def test_config_errors_exit_2_with_a_clear_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str | None,
    extra: tuple[str, ...],
    expected: str,
) -> None:
    assert run(tmp_path, text, *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("gosd agent: ")
    assert expected in err
    assert "Traceback" not in err


OLD_DRONE = GOOD + '[driver]\nkind = "mavsdk"\n[driver.settings]\nconnection = "serial:///dev/x"\n'


def load(tmp_path: Path, text: str, environ: dict[str, str], kind: str | None = None) -> Any:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return agent_config.load(path, environ=environ, driver_kind=kind).driver


def test_each_kind_reads_its_own_table(tmp_path: Path) -> None:
    text = GOOD + '[driver]\nkind = "mavsdk"\n[driver.mavsdk]\nconnection = "serial:///dev/x"\n'
    text += "[driver.fake]\nsteps = 2\n"
    assert load(tmp_path, text, {}).settings == {"connection": "serial:///dev/x"}
    assert load(tmp_path, text, {}, "fake").settings == {"steps": 2}
    assert load(tmp_path, text, {"GOSD_AGENT_DRIVER": "fake"}).settings == {"steps": 2}
    # --driver wins over the environment.
    assert load(tmp_path, text, {"GOSD_AGENT_DRIVER": "fake"}, "mavsdk").kind == "mavsdk"
    assert load(tmp_path, GOOD, {}, "mavsdk").settings == {}, "no table: the defaults"


def test_an_old_files_settings_belong_to_its_own_kind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "shared.agent_config")
    assert load(tmp_path, OLD_DRONE, {}).settings == {"connection": "serial:///dev/x"}
    assert not caplog.records
    switched = load(tmp_path, OLD_DRONE, {}, "fake")
    assert (switched.kind, switched.settings) == ("fake", {})
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'agent.toml'}: [driver.settings] is for the mavsdk driver (driver.kind "
        "of the file); the fake driver chosen instead does not read it"
    ]


def test_written_files_have_a_table_per_kind(tmp_path: Path) -> None:
    config = agent_config.load(_write(tmp_path, GOOD), environ={})
    config = msgspec.structs.replace(config, driver=DriverSection.of("mavsdk", {"x": "y"}))
    path = tmp_path / "written.toml"
    agent_config.write(config, path)
    assert '[driver.mavsdk]\nx = "y"' in path.read_text()
    assert agent_config.load(path, environ={}).driver == config.driver


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_missing_config_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "--config" in capsys.readouterr().err


def test_broker_urls() -> None:
    assert parse_broker_url("mqtt://10.0.0.2:1884") == parse_broker_url("mqtt://10.0.0.2:1884")
    assert parse_broker_url("mqtt://h").port == 1883
    assert parse_broker_url("mqtts://h").port == 8883
    with pytest.raises(ConfigError):
        parse_broker_url("tcp://h:1")


def test_the_driver_registry() -> None:
    assert load_driver("fake", {}).describe()["type"] == "drone"
    assert load_driver("depot", {}).describe()["type"] == "depot"
    with pytest.raises(DriverConfigError, match="known: depot, fake, mavsdk"):
        load_driver("px9", {})


def test_backoff_is_capped_jittered_and_resets() -> None:
    backoff = Backoff(min_s=0.2, max_s=10.0)
    delays = [backoff.next_delay() for _ in range(20)]
    assert all(0.2 <= d <= 10.0 for d in delays)
    assert max(delays[8:]) > 1.0  # it grows
    backoff.reset()
    assert backoff.next_delay() <= 0.2
