"""Flights end to end: the agent process with the ``mavsdk`` driver, a real broker, a
simulated vehicle (in this process, on free UDP ports, sped up) and a mission file
served like the control plane serves blobs.

The job's history (its events, in ``seq`` order) is what an operator reads afterwards;
these tests assert that it tells the flight: each item reached, the link-loss action,
a re-attach after the agent was killed mid-flight.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared import topics
from simulator.fleet import SimFleet
from tests.integration.agent_harness import (
    AgentProcess,
    BlobServer,
    ControlPlane,
    Mosquitto,
    control_plane,
    free_port,
    free_udp_port,
    make_config,
    run_agent,
    run_mosquitto,
    wpl_mission,
)
from tests.plan_files import plan, takeoff, waypoint
from tests.support import until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = topics.events(7)
ARDUPILOT_COMMANDS = (
    Path(__file__).resolve().parents[1] / "missions" / "px4_ardupilot_commands.waypoints"
).read_bytes()
TERMINAL = {"succeeded", "failed", "cancelled"}
SPEEDUP = 20.0


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    async with SimFleet(1, base_port=free_udp_port(), speedup=SPEEDUP) as fleet:
        yield fleet


@pytest.fixture
def broker_port() -> int:
    return free_port()


@pytest.fixture
def broker(tmp_path: Path, broker_port: int) -> Iterator[Mosquitto]:
    with run_mosquitto(tmp_path / "broker", broker_port) as broker:
        yield broker


@pytest.fixture
def agent(
    broker: Mosquitto, blobs: BlobServer, tmp_path: Path, fleet: SimFleet
) -> Iterator[AgentProcess]:
    settings = {
        "connection": fleet.url(0),
        "telemetry_period_s": 0.2,
        "landing_timeout_s": 120.0,
    }
    config = make_config(
        tmp_path, broker.url, control_plane_url=blobs.url, settings=settings, driver="mavsdk"
    )
    with run_agent(config) as agent:
        yield agent


@pytest.fixture
async def cp(broker: Mosquitto, agent: AgentProcess) -> AsyncIterator[ControlPlane]:
    async with control_plane(broker) as cp:
        await cp.wait(topics.status(7), lambda s: s["code"] == 0, timeout_s=20)
        yield cp


def start_params(ref: dict[str, Any], extra: dict[str, str] | None = None) -> dict[str, Any]:
    return {"job": {"plan_id": 10, "job_id": 1, "files": {"mission": ref}, "extra": extra or {}}}


def unique(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_seq = {e["seq"]: e for e in events}
    return [by_seq[s] for s in sorted(by_seq)]


def items(events: list[dict[str, Any]]) -> list[int]:
    return [e["progress"]["item"] for e in events if "item" in e.get("progress", {})]


def stages(events: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for e in events:
        stage = e.get("progress", {}).get("stage")
        if stage and (not out or out[-1] != stage):
            out.append(stage)
    return out


async def history(cp: ControlPlane, timeout_s: float = 60) -> list[dict[str, Any]]:
    """Every event of the job once it ended, de-duplicated, in ``seq`` order."""
    await cp.wait(EVENTS, lambda e: e["state"] in TERMINAL, timeout_s=timeout_s)
    return unique(cp.all(EVENTS))


async def test_a_job_with_a_mission_file_flies_to_succeeded(
    cp: ControlPlane, blobs: BlobServer, fleet: SimFleet
) -> None:
    ref = blobs.add("51", wpl_mission(3))
    assert (await cp.call("job_start", start_params(ref)))["result"] == {"accepted": True}
    events = await history(cp)
    assert events[-1]["state"] == "succeeded", events[-1]
    assert [e["state"] for e in events[:3]] == ["accepted", "preparing", "running"]
    assert items(events) == [0, 1, 2, 3]
    assert stages(events) == ["takeoff", "mission", "returning", "landed"]
    reached = [e["progress"] for e in events if "item" in e.get("progress", {})]
    assert reached[-1] == {
        "current": 4,
        "total": 4,
        "percent": 100.0,
        "item": 3,
        "stage": "mission",
    }
    vehicle = fleet.vehicles[0].snapshot()
    assert (vehicle["armed"], vehicle["landed_state"]) == (False, "ON_GROUND")
    # Telemetry tells the same: standby, disarmed, the mission finished.
    await cp.wait(
        topics.msg(7, "drone_status"), lambda s: s["status"] == "standby" and not s["armed"]
    )
    mission = await cp.wait(topics.msg(7, "mission"), lambda m: m.get("finished") is True)
    assert mission["total"] == 4


async def test_a_bad_mission_file_fails_the_job_saying_where(
    cp: ControlPlane, blobs: BlobServer
) -> None:
    ref = blobs.add("52", b"QGC WPL 110\n0\t1\t3\t16\t0\t0\t0\t0\t47.3\t8.5\t10\n")
    await cp.call("job_start", start_params(ref))
    events = await history(cp)
    assert (events[-1]["state"], events[-1]["reason"]) == ("failed", "invalid_mission")
    assert "line 2" in events[-1]["detail"]


async def test_a_mission_px4_would_refuse_fails_the_job_before_upload(
    cp: ControlPlane, blobs: BlobServer, fleet: SimFleet
) -> None:
    """A job no control plane checked (its own file): the agent refuses it, naming the item."""
    ref = blobs.add("54", ARDUPILOT_COMMANDS)
    await cp.call("job_start", start_params(ref))
    events = await history(cp)
    assert (events[-1]["state"], events[-1]["reason"]) == ("failed", "invalid_mission")
    assert (
        "line 5 (item 2): command 18 (NAV_LOITER_TURNS) is not flown by PX4"
        in (events[-1]["detail"])
    )
    assert fleet.vehicles[0].snapshot()["mission_items"] == 0, "nothing was uploaded"


async def test_a_bad_extra_value_is_refused_before_the_job_is_accepted(
    cp: ControlPlane, blobs: BlobServer
) -> None:
    ref = blobs.add("53", wpl_mission(1))
    response = await cp.call("job_start", start_params(ref, {"on_finish": "somewhere"}))
    assert response["error"]["code"] == 1002  # INVALID_JOB
    assert "extra.on_finish" in response["error"]["data"]["detail"]


@pytest.mark.parametrize(
    ("action", "mode", "words", "stage"),
    [
        ("rtl", "AUTO_RTL", "returning home", "returning"),
        ("hold", "AUTO_LOITER", "holding position", "holding"),
    ],
)
async def test_the_link_loss_policy_acts_and_the_history_says_so(
    tmp_path: Path,
    agent: AgentProcess,
    broker: Mosquitto,
    broker_port: int,
    blobs: BlobServer,
    fleet: SimFleet,
    action: str,
    mode: str,
    words: str,
    stage: str,
) -> None:
    ref = blobs.add("54", wpl_mission(10, spacing_m=100))
    extra = {"link_loss_action": action, "link_loss_timeout_s": "2"}
    async with control_plane(broker) as cp:
        await cp.wait(topics.status(7), lambda s: s["code"] == 0, timeout_s=20)
        await cp.call("job_start", start_params(ref, extra))
        await cp.wait(EVENTS, lambda e: e.get("progress", {}).get("item") == 1, timeout_s=60)
    broker.process.terminate()
    broker.process.wait(10)
    agent.wait_log("broker link lost for", 20)

    async def acted() -> bool:
        return fleet.vehicles[0].snapshot()["mode"] == mode

    await until(acted, f"the vehicle is in {mode}", 10)
    with run_mosquitto(tmp_path / "broker2", broker_port) as again:
        async with control_plane(again) as cp:
            events = await history(cp)
    assert (events[-1]["state"], events[-1]["reason"]) == ("failed", "link_lost")
    told = [
        e for e in events if e["state"] == "running" and "broker link lost" in e.get("detail", "")
    ]
    assert len(told) == 1
    assert f"{words} (link_loss_action {action})" in told[0]["detail"]
    assert told[0]["progress"]["stage"] == stage
    assert "the vehicle acknowledged" in events[-1]["detail"]
    assert max(items(events)) < 10  # the mission did not go on
    if action == "rtl":

        async def landed() -> bool:
            snapshot = fleet.vehicles[0].snapshot()
            return snapshot["landed_state"] == "ON_GROUND" and not snapshot["armed"]

        await until(landed, "the vehicle landed at home", 60)
    else:
        assert fleet.vehicles[0].snapshot()["armed"] is True  # hovering, waiting for people


async def test_by_default_a_lost_broker_link_changes_nothing_and_the_events_follow(
    tmp_path: Path,
    agent: AgentProcess,
    broker: Mosquitto,
    broker_port: int,
    blobs: BlobServer,
    fleet: SimFleet,
) -> None:
    ref = blobs.add("59", wpl_mission(6, spacing_m=60))
    async with control_plane(broker) as cp:
        await cp.wait(topics.status(7), lambda s: s["code"] == 0, timeout_s=20)
        await cp.call("job_start", start_params(ref, {"link_loss_timeout_s": "1"}))
        await cp.wait(EVENTS, lambda e: e.get("progress", {}).get("item") == 1, timeout_s=60)
    broker.process.terminate()
    broker.process.wait(10)
    agent.wait_log("broker link lost", 20)

    async def landed() -> bool:
        snapshot = fleet.vehicles[0].snapshot()
        return snapshot["landed_state"] == "ON_GROUND" and not snapshot["armed"]

    await until(landed, "the vehicle flew its mission and came back", 60)
    with run_mosquitto(tmp_path / "broker2", broker_port) as again:
        async with control_plane(again) as cp:
            events = await history(cp)
    assert events[-1]["state"] == "succeeded"
    assert items(events) == list(range(7))  # every item, reported while the link was down
    assert not any("broker link lost" in e.get("detail", "") for e in events)


async def test_a_killed_agent_re_attaches_to_the_flight_and_the_job_succeeds(
    cp: ControlPlane, agent: AgentProcess, blobs: BlobServer, fleet: SimFleet
) -> None:
    """Killed mid-mission and back only after the vehicle reached more items: the items it
    reached meanwhile are in the history, and every item is there once, in order."""
    east = [(0.0, 80.0 * (i + 1)) for i in range(8)]
    ref = blobs.add("55", plan([takeoff(), *(waypoint(n, e) for n, e in east)]))
    await cp.call("job_start", start_params(ref))
    await cp.wait(EVENTS, lambda e: e.get("progress", {}).get("item") == 2, timeout_s=60)
    agent.stop(signal.SIGKILL)
    last_reported = max(items(cp.all(EVENTS)))
    vehicle = fleet.vehicles[0]

    async def went_on() -> bool:  # two more items reached while nobody watched
        return int(vehicle.snapshot()["mission_seq"]) >= last_reported + 3  # type: ignore[call-overload]

    await until(went_on, "the vehicle reached two items without its agent", 60)
    at_restart = int(vehicle.snapshot()["mission_seq"])  # type: ignore[call-overload]
    since = len(cp.seen)
    agent.start()
    await cp.wait(topics.status(7), lambda s: s["code"] == 0, since=since, timeout_s=20)
    events = await history(cp, timeout_s=90)
    assert events[-1]["state"] == "succeeded", events[-1]
    states = [e["state"] for e in events]
    assert states.count("accepted") == 1
    assert states.count("preparing") == 1
    resumed = [e for e in events if "re-attached" in e.get("detail", "")]
    assert len(resumed) == 1
    after = events[events.index(resumed[0]) :]
    assert "takeoff" not in stages(after)  # the mission was not started again
    assert items(events) == list(range(9))  # each item once, in order: none lost
    before = items(events[: events.index(resumed[0])])
    meanwhile = list(range(before[-1] + 1, at_restart))  # reached while nobody watched
    assert meanwhile and items(after)[: len(meanwhile)] == meanwhile
    counts = [e["progress"]["current"] for e in events if "item" in e.get("progress", {})]
    assert counts == list(range(1, 10))
    vehicle_now = fleet.vehicles[0].snapshot()
    assert (vehicle_now["armed"], vehicle_now["landed_state"]) == (False, "ON_GROUND")


@pytest.mark.parametrize(
    ("method", "params", "reason", "mode"),
    [
        ("job_cancel", {"plan_id": 10, "job_id": 1}, "cancelled", "AUTO_RTL"),
        ("job_cancel", {"plan_id": 10, "job_id": 1, "action": "hold"}, "cancelled", "AUTO_LOITER"),
        ("emergency_stop", {}, "emergency_stop", "AUTO_LOITER"),
    ],
)
async def test_cancel_and_emergency_stop_reach_the_vehicle(
    cp: ControlPlane,
    blobs: BlobServer,
    fleet: SimFleet,
    method: str,
    params: dict[str, Any],
    reason: str,
    mode: str,
) -> None:
    ref = blobs.add("56", wpl_mission(8, spacing_m=100))
    await cp.call("job_start", start_params(ref))
    await cp.wait(EVENTS, lambda e: e.get("progress", {}).get("item") == 1, timeout_s=60)
    assert (await cp.call(method, params))["result"] == {}
    events = await history(cp)
    assert (events[-1]["state"], events[-1]["reason"]) == ("cancelled", reason)
    # The job ended once the vehicle showed the mode (not after a landing).
    vehicle = fleet.vehicles[0].snapshot()
    assert vehicle["mode"] == mode
    assert vehicle["armed"] is True
    assert max(items(events)) < 8
    if mode == "AUTO_RTL":

        async def landed() -> bool:
            snapshot = fleet.vehicles[0].snapshot()
            return snapshot["landed_state"] == "ON_GROUND" and not snapshot["armed"]

        await until(landed, "the vehicle landed at home", 60)


async def test_a_refused_manual_command_answers_its_error(
    cp: ControlPlane, fleet: SimFleet
) -> None:
    fleet.faults[0].set_rejected(frozenset({400}))  # MAV_CMD_COMPONENT_ARM_DISARM
    response = await cp.call("action", {"name": "arm", "params": {}})
    assert response["error"]["code"] == 1004  # NOT_ARMABLE
    assert "arm: denied" in response["error"]["data"]["detail"]
    response = await cp.call("action", {"name": "goto", "params": {"lat": "north"}})
    assert response["error"]["code"] == -32602  # INVALID_PARAMS


async def test_an_agent_back_after_the_vehicle_landed_closes_the_job_succeeded(
    cp: ControlPlane, agent: AgentProcess, blobs: BlobServer, fleet: SimFleet
) -> None:
    """Killed mid-mission, back only once the mission (ending with RTL) flew to its end and
    the vehicle landed: the job's true state is succeeded."""
    ref = blobs.add("57", wpl_mission(3, spacing_m=60, rtl=True))
    await cp.call("job_start", start_params(ref))
    await cp.wait(EVENTS, lambda e: e.get("progress", {}).get("item") == 1, timeout_s=60)
    agent.stop(signal.SIGKILL)

    async def landed() -> bool:
        snapshot = fleet.vehicles[0].snapshot()
        return snapshot["landed_state"] == "ON_GROUND" and not snapshot["armed"]

    await until(landed, "the vehicle flew its mission to the end and landed", 60)
    since = len(cp.seen)
    agent.start()
    await cp.wait(topics.status(7), lambda s: s["code"] == 0, since=since, timeout_s=20)
    events = await history(cp)
    assert events[-1]["state"] == "succeeded", events[-1]
    assert [e["state"] for e in events].count("accepted") == 1
    assert stages(events)[-1] == "landed"


@pytest.mark.parametrize("back", ["returning", "landed"])
async def test_a_failsafe_while_the_agent_was_away_fails_the_job_after_landing(
    cp: ControlPlane, agent: AgentProcess, blobs: BlobServer, fleet: SimFleet, back: str
) -> None:
    ref = blobs.add("58", wpl_mission(8, spacing_m=100))
    await cp.call("job_start", start_params(ref))
    await cp.wait(EVENTS, lambda e: e.get("progress", {}).get("item") == 1, timeout_s=60)
    agent.stop(signal.SIGKILL)
    fleet.faults[0].set_battery(12.0)  # below BAT_LOW_THR: the vehicle returns home

    async def returning() -> bool:
        return fleet.vehicles[0].snapshot()["mode"] == "AUTO_RTL"

    async def landed() -> bool:
        snapshot = fleet.vehicles[0].snapshot()
        return snapshot["landed_state"] == "ON_GROUND" and not snapshot["armed"]

    await until(returning, "the vehicle's low-battery failsafe", 10)
    if back == "landed":
        await until(landed, "the vehicle's landing", 60)
    since = len(cp.seen)
    agent.start()
    await cp.wait(topics.status(7), lambda s: s["code"] == 0, since=since, timeout_s=20)
    events = await history(cp)
    assert (events[-1]["state"], events[-1]["reason"]) == ("failed", "low_battery")
    assert "the vehicle landed" in events[-1]["detail"]
    vehicle = fleet.vehicles[0].snapshot()
    assert (vehicle["armed"], vehicle["landed_state"]) == (False, "ON_GROUND")


async def test_a_mission_the_vehicle_refuses_fails_before_take_off_in_its_words(
    cp: ControlPlane, blobs: BlobServer, fleet: SimFleet
) -> None:
    """A vehicle set to require a landing item (PX4's MIS_TKO_LAND_REQ 2, as an operator
    sets it) stores a mission without one, then its feasibility check refuses it: the job
    fails before the vehicle is armed, with the vehicle's text (52 bytes: two STATUSTEXT
    chunks, joined)."""
    fleet.vehicles[0].params.set("MIS_TKO_LAND_REQ", 2)
    ref = blobs.add("55", wpl_mission(3))
    await cp.call("job_start", start_params(ref))
    events = await history(cp)
    last = events[-1]
    assert (last["state"], last["reason"]) == ("failed", "invalid_mission")
    assert last["detail"] == (
        "the vehicle refused the mission: Mission rejected: Landing waypoint/pattern required."
    )
    assert items(events) == [] and "takeoff" not in stages(events)
    vehicle = fleet.vehicles[0].snapshot()
    assert (vehicle["armed"], vehicle["landed_state"]) == (False, "ON_GROUND")
    assert (vehicle["mission_items"], vehicle["mission_valid"]) == (4, False)
    assert vehicle["rel_alt_m"] == 0
