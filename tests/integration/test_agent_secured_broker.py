"""The agent on a broker with passwords and the node ACL of DESIGN §7."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import topics
from tests.integration.agent_harness import (
    Mosquitto,
    control_plane,
    make_config,
    run_agent,
    run_mosquitto,
    secured_broker_config,
)

pytestmark = pytest.mark.integration

CP_PASSWORD = "cp-password"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed")
    accounts = {topics.CONTROL_PLANE_USERNAME: CP_PASSWORD, "node-7": "node-secret-7"}
    extra = secured_broker_config(tmp_path / "auth", accounts, [7])
    with run_mosquitto(tmp_path / "broker", extra_config=extra) as broker:
        yield broker


async def test_the_agent_works_within_its_acl(broker: Mosquitto, tmp_path: Path) -> None:
    config = make_config(tmp_path, broker.url, settings={"steps": 2, "step_s": 0.01})
    with run_agent(config):
        async with control_plane(
            broker, username=topics.CONTROL_PLANE_USERNAME, password=CP_PASSWORD
        ) as cp:
            await cp.wait(topics.status(7), lambda s: s["code"] == 0)
            assert "result" in await cp.call("ping")
            job = {"job": {"plan_id": 1, "job_id": 1}}
            assert (await cp.call("job_start", job))["result"] == {"accepted": True}
            await cp.wait(topics.events(7), lambda e: e["state"] == "succeeded")
            await cp.wait(topics.network(7))
            await cp.wait(topics.msg(7, "position"))


async def test_refused_credentials_stop_the_agent_with_a_clear_message(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = make_config(tmp_path, broker.url, node_id=8)  # node-8 has no account
    with run_agent(config) as agent:
        assert agent.process is not None
        assert agent.process.wait(30) == 3
        assert "the broker refused node-8" in agent.text()
