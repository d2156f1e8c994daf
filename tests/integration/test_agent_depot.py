"""An agent process with the depot driver, a ``gosd sim --docks 1`` process, a real
Mosquitto: ``msg/depot_status`` through the broker, dock actions over RPC, a dock job,
and faults injected with ``gosd sim fault --dock``."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared import topics
from shared.errors import RpcErrorCode
from tests.brokers import free_port
from tests.e2e.sim_process import free_udp_ports
from tests.integration.agent_harness import (
    REPO,
    ControlPlane,
    Mosquitto,
    control_plane,
    make_config,
    run_agent,
)
from tests.support import stop_process, until_sync

pytestmark = pytest.mark.integration

NODE = 7
STATUS = topics.msg(NODE, "depot_status")


class Sim:
    def __init__(self, tmp: Path) -> None:
        self.dock_port = free_port()
        self.control_port = free_port()
        self.log = tmp / "sim.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gosd", "sim", "--vehicles", "1", "--speedup", "10",
                 "--base-port", str(free_udp_ports(1)), "--docks", "1",
                 "--dock-port", str(self.dock_port), "--control", str(self.control_port)],
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
        until_sync(lambda: "control:" in self.log.read_text(), "gosd sim is up", 20)

    def fault(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gosd", "sim", "fault", "--control", str(self.control_port),
             "--dock", "0", *args],
            capture_output=True, text=True, cwd=REPO, timeout=30, check=False,
        )  # fmt: skip


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    sim = Sim(tmp_path)
    try:
        yield sim
    finally:
        stop_process(sim.process)


@pytest.fixture
async def cp(broker: Mosquitto, sim: Sim, tmp_path: Path) -> AsyncIterator[ControlPlane]:
    settings = {"port": sim.dock_port, "poll_period_s": 0.05}
    config = make_config(tmp_path, broker.url, node_id=NODE, driver="depot", settings=settings)
    with run_agent(config):
        async with control_plane(broker, NODE) as cp:
            await cp.wait(topics.status(NODE), lambda s: s["code"] == 0, timeout_s=20)
            yield cp


async def test_the_dock_agent_publishes_its_state_and_runs_commands(
    cp: ControlPlane, sim: Sim
) -> None:
    birth = await cp.wait(topics.status(NODE), lambda s: s["code"] == 0)
    assert birth["status"]["type"] == "depot" and "cover_open" in birth["status"]["actions"]
    first = await cp.wait(STATUS, lambda s: s.get("door") == "closed")
    assert first["status"] == "idle" and first["fix"] is True and first["drone_present"] is True
    assert first["weather"]["rain"] == "none"

    since = len(cp.seen)
    answer = await cp.call("action", {"name": "cover_open"}, timeout_s=20)
    assert answer["result"]["status"] == "ok" and answer["result"]["state"]["door"] == "open"
    moving = await cp.wait(STATUS, lambda s: s.get("door") == "moving", since=since)
    assert moving["status"] == "busy" and moving["command"]["name"] == "cover_open"

    # A fault on the dock's side is on the broker within a poll period and a publish.
    since = len(cp.seen)
    done = sim.fault("emergency-stop", "on")
    assert done.returncode == 0, done.stderr
    injected = time.monotonic()
    stopped = await cp.wait(STATUS, lambda s: s.get("mode") == "emergency_stop", since=since)
    assert time.monotonic() - injected < 0.5, "a state change is published at once"
    assert stopped["status"] == "error" and stopped["door"] == "open"

    refused = await cp.call("action", {"name": "reset"})
    assert refused["error"]["code"] == RpcErrorCode.COMMAND_DENIED
    assert "emergency_stop" in refused["error"]["data"]["detail"]
    assert sim.fault("emergency-stop", "off").returncode == 0
    reset = await cp.call("action", {"name": "reset"})
    assert reset["result"]["state"]["mode"] == "idle"


async def test_a_dock_job_reports_each_step_and_a_failing_step_says_why(
    cp: ControlPlane, sim: Sim
) -> None:
    events = topics.events(NODE)
    job = {"plan_id": 1, "job_id": 1, "extra": {"dock_actions": "cover_open,clamp_release"}}
    started = await cp.call("job_start", {"job": job})
    assert started["result"] == {"accepted": True}
    done = await cp.wait(events, lambda e: e["state"] in ("succeeded", "failed"), timeout_s=30)
    assert done["state"] == "succeeded"
    steps = [e["progress"]["stage"] for e in cp.all(events) if e.get("progress", {}).get("stage")]
    assert steps == ["cover_open", "clamp_release"]

    assert sim.fault("cover-jam", "on").returncode == 0
    job = {"plan_id": 1, "job_id": 2, "extra": {"dock_actions": "clamp_lock,cover_close"}}
    since = len(cp.seen)
    await cp.call("job_start", {"job": job})
    failed = await cp.wait(
        events, lambda e: e["job_id"] == 2 and e["state"] == "failed", since=since, timeout_s=30
    )
    assert failed["reason"] == "dock_error"
    assert "step 2/2 cover_close" in failed["detail"] and "cover_jam" in failed["detail"]
    status = sim.fault("status")
    assert '"cover": 5' in status.stdout  # the dock's own registers: cover fault
