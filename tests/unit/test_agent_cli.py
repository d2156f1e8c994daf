"""``gosd agent``: configuration errors are clear messages and exit code 2, not tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.cli import main
from edge_agent.drivers import DriverConfigError, load_driver
from edge_agent.link import Backoff, parse_broker_url
from shared.agent_config import ConfigError

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
        (GOOD + "[driver.settings]\nsteps = 0\n", (), "steps must be >= 1"),
        (GOOD + "[driver.settings]\nsteps = 'many'\n", (), "driver.settings"),
        ('[node]\nid = 3\nsecret = "s"\n[broker]\nurl = "http://x"\n', (), "broker.url"),
        (GOOD.replace("mqtt://127.0.0.1:9", "mqtt://h:99999"), (), "bad port"),
        (GOOD + "[agent]\ntelemetry_hz = 0\n", (), "telemetry_hz"),
        (GOOD, ("--log-level", "LOUD"), "not a level"),
        (GOOD + '[driver]\nkind = "mavsdk"\n[driver.settings]\nconnection = "x"\n', (), "URL"),
        (
            GOOD + '[driver]\nkind = "mavsdk"\n[driver.settings]\nconnection = "warp://x"\n',
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
    with pytest.raises(DriverConfigError, match="known: fake"):
        load_driver("px9", {})


def test_backoff_is_capped_jittered_and_resets() -> None:
    backoff = Backoff(min_s=0.2, max_s=10.0)
    delays = [backoff.next_delay() for _ in range(20)]
    assert all(0.2 <= d <= 10.0 for d in delays)
    assert max(delays[8:]) > 1.0  # it grows
    backoff.reset()
    assert backoff.next_delay() <= 0.2
