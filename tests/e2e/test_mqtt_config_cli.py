"""``gosd mqtt config`` as an operator uses it, then Mosquitto on what it wrote."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import aiomqtt
import pytest

from control_plane.settings import broker_url
from shared import topics
from tests.brokers import free_port, mosquitto_on, require_mosquitto
from tests.e2e.processes import gosd, gosd_env, json_of

pytestmark = pytest.mark.integration


async def test_the_generated_files_run_mosquitto_for_the_nodes(tmp_path: Path) -> None:
    require_mosquitto()
    env = gosd_env(tmp_path / "data")
    node = json_of(gosd("nodes", "add", "drone-1", "--type", "air", "--json", env=env))
    port = free_port()
    out = tmp_path / "mosquitto"
    result = json_of(
        gosd(
            "mqtt", "config", "--out", str(out), "--listen", f"127.0.0.1:{port}", "--json", env=env
        )
    )
    assert result["files"] == [str(out / name) for name in ("mosquitto.conf", "passwd", "acl")]
    for secret_file in ("passwd", "acl"):
        assert stat.S_IMODE((out / secret_file).stat().st_mode) == 0o600
    url = broker_url(result["mqtt_url"])
    assert (url.host, url.port, url.username) == ("127.0.0.1", port, "gosd-control-plane")
    assert url.password

    async with (
        mosquitto_on(out / "mosquitto.conf", port, url.password) as broker,
        aiomqtt.Client(
            broker.host, broker.port, username=url.username, password=url.password
        ) as cp,
        aiomqtt.Client(
            broker.host, broker.port, username=f"node-{node['id']}", password=node["secret"]
        ) as drone,
    ):
        await cp.subscribe(topics.status(node["id"]), qos=1)
        await drone.publish(topics.status(node["id"]), b"online", qos=1)
        async with asyncio.timeout(5):
            message = await anext(aiter(cp.messages))
    assert message.payload == b"online"


def test_the_control_plane_password_comes_from_gosd_mqtt_url(tmp_path: Path) -> None:
    env = gosd_env(
        tmp_path / "data",
        GOSD_MQTT_URL="mqtt://gosd-control-plane:s3cret@h:1884",
        GOSD_MQTT_LISTEN="127.0.0.1:1883",
    )
    out = tmp_path / "mosquitto"
    result = json_of(gosd("mqtt", "config", "--out", str(out), "--json", env=env))
    assert result["mqtt_url"] is None
    text = gosd("mqtt", "config", "--out", str(out), env=env).stdout
    assert "GOSD_MQTT_URL" not in text and "s3cret" not in text
    # The default listener is GOSD_MQTT_LISTEN's.
    assert "listener 1883 127.0.0.1" in (out / "mosquitto.conf").read_text()


def test_mqtt_config_errors(tmp_path: Path) -> None:
    env = gosd_env(tmp_path / "data")
    out = str(tmp_path / "mosquitto")
    bad_listen = gosd("mqtt", "config", "--out", out, "--listen", "nowhere", env=env, check=False)
    assert bad_listen.returncode == 2 and "--listen" in bad_listen.stderr
    no_out = gosd("mqtt", "config", env=env, check=False)
    assert no_out.returncode == 2 and "--out" in no_out.stderr
    other_user = gosd(
        "mqtt",
        "config",
        "--out",
        out,
        env={**env, "GOSD_MQTT_URL": "mqtt://someone:pw@127.0.0.1:1884"},
        check=False,
    )
    assert other_user.returncode == 1 and "gosd-control-plane" in other_user.stderr
    assert other_user.stdout == ""
