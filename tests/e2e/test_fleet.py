"""The fleet end to end: real control plane, real broker, real agents (fake driver).

Every test runs against both brokers where it matters: the embedded one (``gosd serve``
alone) and Mosquitto on the configuration ``gosd mqtt config`` writes.
"""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared import topics
from shared.enums import JobStatus
from tests.e2e.fleet import BrokerKind, Fleet

pytestmark = pytest.mark.integration

BROKERS: list[BrokerKind] = ["embedded", "mosquitto"]
TERMINAL = {s.value for s in JobStatus if s.is_terminal}


@contextlib.asynccontextmanager
async def make_fleet(tmp_path: Path, database_url: str, broker: BrokerKind) -> AsyncIterator[Fleet]:
    fleet = Fleet(tmp_path, database_url, broker, GOSD_QUEUE_TIMEOUT_S="3", GOSD_RPC_TIMEOUT_S="2")
    try:
        yield fleet
    finally:
        await fleet.close()


@pytest.fixture(params=BROKERS)
async def fleet(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str
) -> AsyncIterator[Fleet]:
    async with make_fleet(tmp_path, database_url, request.param) as fleet:
        yield fleet


async def start(fleet: Fleet) -> None:
    fleet.start_broker()
    await fleet.start_control_plane()


async def make_plan(fleet: Fleet, node_id: int, files: dict[str, str] | None = None) -> int:
    r = await fleet.http.post(
        "/api/v2/plans/",
        headers=fleet.headers,
        json={"name": "p", "node_id": node_id, "files": files or {}, "extra": {"k": "v"}},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def run_job(fleet: Fleet, plan_id: int) -> dict[str, Any]:
    r = await fleet.http.post(f"/api/v2/plans/{plan_id}/jobs/", headers=fleet.headers)
    assert r.status_code == 201, r.text
    job: dict[str, Any] = r.json()
    assert job["status"] == JobStatus.QUEUED
    return job


async def history(fleet: Fleet, plan_id: int, job_id: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = await fleet.get(f"/api/v2/plans/{plan_id}/jobs/{job_id}/events")
    return events


def assert_gap_free(events: list[dict[str, Any]]) -> None:
    seqs = [e["seq"] for e in events if e["seq"] is not None]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"gap or repeat in {seqs}"


def ended(job: dict[str, Any]) -> bool:
    return job["status"] in TERMINAL


async def test_node_online_then_neterror_on_kill_then_offline_on_stop(fleet: Fleet) -> None:
    node_id, config = fleet.add_node("d1", keepalive_s=2)
    await start(fleet)
    assert await fleet.node_state(node_id) == "unknown"

    fleet.start_agent(node_id, config)
    await fleet.wait_node(node_id, "online")
    status = await fleet.get(f"/api/v2/nodes/{node_id}/status")
    assert status["agent"]["protocol"] == 1 and "job_start" in status["agent"]["capabilities"]
    listed = await fleet.get("/api/v2/nodes/")
    assert [n["status"]["state"] for n in listed if n["id"] == node_id] == ["online"]

    fleet.stop_agent(node_id, signal.SIGKILL)
    took = await fleet.wait_node(node_id, "neterror", within=10)
    assert took < 1.5 * 2 + 1.0, f"neterror after {took:.1f} s with a 2 s keep-alive"

    fleet.start_agent(node_id, config)
    await fleet.wait_node(node_id, "online")
    assert fleet.stop_agent(node_id) == 0
    await fleet.wait_node(node_id, "offline", within=5)


async def test_telemetry_its_history_and_the_stream(fleet: Fleet) -> None:
    node_id, config = fleet.add_node("d1")
    await start(fleet)
    fleet.start_agent(node_id, config)
    await fleet.wait_node(node_id, "online")

    async def position() -> Any:
        r = await fleet.http.get(f"/api/v2/nodes/{node_id}/msg/position", headers=fleet.headers)
        return r.json() if r.status_code == 200 else None

    latest = await fleet.eventually(position, "a position arrives")
    assert {"lat", "lng"} <= set(latest["data"])
    history = f"/api/v2/nodes/{node_id}/msg/position/history"
    samples = await fleet.get(history + "?time=60")
    assert samples and all({"lat", "lng"} <= set(s["value"]) for s in samples)
    assert [s["time"] for s in samples] == sorted(s["time"] for s in samples)
    assert await fleet.get(f"/api/v2/nodes/{node_id}/msg/nothing/history") == []
    for bad in ("?time=0", "?time=-5", "?time=x", "?time=1e9"):
        r = await fleet.http.get(history + bad, headers=fleet.headers)
        assert r.status_code == 422 and r.json()["location"] == "time", (bad, r.text)
    seen: list[tuple[str, Any]] = []
    async with fleet.http.stream(
        "GET", f"/api/v2/nodes/{node_id}/stream", headers=fleet.headers
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                seen.append((kind, json.loads(line.split(":", 1)[1])))
                names = {data["name"] for kind, data in seen if kind == "msg"}
                if {"position", "battery"} <= names and node_id in fleet.agents:
                    fleet.stop_agent(node_id)  # a change the stream must report
                if kind == "status" and seen[-1][1]["state"] == "offline":
                    break
    assert seen[0][0] == "status" and seen[0][1]["state"] == "online"
    assert node_id not in fleet.agents, "telemetry reached the stream before the stop"


async def test_a_job_runs_from_post_to_succeeded(fleet: Fleet) -> None:
    node_id, config = fleet.add_node("d1", steps=4, step_s=0.05)
    await start(fleet)
    fleet.start_agent(node_id, config)
    await fleet.wait_node(node_id, "online")
    r = await fleet.http.post(
        "/api/v2/blobs/", headers=fleet.headers, files={"f": ("route.bin", b"\x00route" * 999)}
    )
    assert r.status_code in (200, 201), r.text
    blob_id = next(iter(r.json().values()))
    plan_id = await make_plan(fleet, node_id, {"payload": str(blob_id)})

    job = await run_job(fleet, plan_id)
    done = await fleet.wait_job(plan_id, job["job_id"], ended, "the job ends")
    assert done["status"] == JobStatus.SUCCEEDED, done
    assert done["progress"]["percent"] == 100
    assert done["started_at"] and done["finished_at"] and done["error"] is None

    events = await history(fleet, plan_id, job["job_id"])
    states = [e["state"] for e in events]
    assert states[:4] == ["queued", "dispatched", "accepted", "preparing"], states
    assert states[-1] == "succeeded" and states.count("running") >= 4
    assert_gap_free(events)
    assert await fleet.get(f"/api/v2/plans/{plan_id}/running") == {}
    if fleet.broker_kind == "mosquitto":  # readable with the control plane's account
        assert await fleet.retained(topics.plan_running(plan_id)) == {}, "running is current"


async def test_cancel_and_emergency_stop_reach_the_agent(fleet: Fleet) -> None:
    node_id, config = fleet.add_node("d1", steps=400, step_s=0.05)
    await start(fleet)
    fleet.start_agent(node_id, config)
    await fleet.wait_node(node_id, "online")
    plan_id = await make_plan(fleet, node_id)

    first = await run_job(fleet, plan_id)
    second = await run_job(fleet, plan_id)
    await fleet.wait_job(plan_id, 1, lambda j: j["status"] == "running", "the first job runs")
    r = await fleet.http.post(f"/api/v2/plans/{plan_id}/jobs/1/cancel", headers=fleet.headers)
    assert r.status_code == 200, r.text
    cancelled = await fleet.wait_job(plan_id, first["job_id"], ended, "the first job ends")
    assert cancelled["status"] == "cancelled" and cancelled["error"]["code"] == "cancelled"
    assert cancelled["progress"]["percent"] < 100

    await fleet.wait_job(
        plan_id, second["job_id"], lambda j: j["status"] == "running", "job 2 runs"
    )
    r = await fleet.http.delete(f"/api/v2/plans/{plan_id}/jobs/running", headers=fleet.headers)
    assert r.status_code == 200, r.text
    stopped = await fleet.wait_job(plan_id, second["job_id"], ended, "the second job ends")
    assert stopped["status"] == "cancelled" and stopped["error"]["code"] == "emergency_stop"
    assert_gap_free(await history(fleet, plan_id, second["job_id"]))


async def test_a_job_for_an_offline_node_fails_node_offline(fleet: Fleet) -> None:
    node_id, _ = fleet.add_node("d1")
    await start(fleet)
    plan_id = await make_plan(fleet, node_id)
    job = await run_job(fleet, plan_id)
    failed = await fleet.wait_job(plan_id, job["job_id"], ended, "the job times out", within=15)
    assert failed["status"] == "failed" and failed["error"]["code"] == "node_offline"
    r = await fleet.http.get(f"/api/v2/nodes/{node_id}/msg/position/history", headers=fleet.headers)
    assert r.status_code == 503 and r.json()["code"] == "node_unreachable", r.text


@pytest.mark.parametrize(
    ("broker", "what"),
    [
        # The embedded broker restarts with the control plane: one case covers both.
        ("embedded", "control_plane"),
        ("embedded", "agent"),
        ("mosquitto", "control_plane"),
        ("mosquitto", "broker"),
        ("mosquitto", "agent"),
    ],
)
async def test_a_restart_in_the_middle_of_a_job(
    tmp_path: Path, database_url: str, broker: BrokerKind, what: str
) -> None:
    """Nothing is lost and nothing runs twice; an agent that died fails its job."""
    async with make_fleet(tmp_path, database_url, broker) as fleet:
        await restart_mid_job(fleet, what)


async def restart_mid_job(fleet: Fleet, what: str) -> None:
    node_id, config = fleet.add_node("d1", steps=60, step_s=0.05)
    await start(fleet)
    fleet.start_agent(node_id, config)
    await fleet.wait_node(node_id, "online")
    plan_id = await make_plan(fleet, node_id)
    job = await run_job(fleet, plan_id)
    await fleet.wait_job(
        plan_id, 1, lambda j: (j["progress"] or {}).get("current", 0) >= 5, "the job is under way"
    )

    if what == "control_plane":
        fleet.stop_control_plane()
        await fleet.start_control_plane()
    elif what == "broker":
        fleet.stop_broker()
        fleet.start_broker()
    else:
        fleet.stop_agent(node_id, signal.SIGKILL)
        fleet.start_agent(node_id, config)

    done = await fleet.wait_job(plan_id, job["job_id"], ended, "the job ends", within=40)
    events = await history(fleet, plan_id, job["job_id"])
    states = [e["state"] for e in events]
    assert_gap_free(events)
    assert states.count("dispatched") == 1 and states.count("accepted") == 1, states
    if what == "agent":
        assert done["status"] == "failed" and done["error"]["code"] == "agent_restarted", done
    else:
        assert done["status"] == "succeeded", (done, states)
        assert states.count("succeeded") == 1
