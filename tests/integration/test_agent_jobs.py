"""Jobs end to end on a real broker: lifecycle, files, idempotence, durable events (§4.2)."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared import topics
from shared.errors import RpcErrorCode
from tests.integration.agent_harness import (
    AgentProcess,
    BlobServer,
    ControlPlane,
    Mosquitto,
    control_plane,
    free_port,
    make_config,
    run_agent,
    run_mosquitto,
)

pytestmark = pytest.mark.integration

EVENTS = topics.events(7)
TERMINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture
def settings() -> dict[str, Any]:
    """The fake driver's settings; tests override this fixture through parametrize."""
    return {"steps": 3, "step_s": 0.02}


@pytest.fixture
def agent(
    broker: Mosquitto, blobs: BlobServer, tmp_path: Path, settings: dict[str, Any]
) -> Iterator[AgentProcess]:
    config = make_config(tmp_path, broker.url, control_plane_url=blobs.url, settings=settings)
    with run_agent(config) as agent:
        yield agent


@pytest.fixture
async def cp(broker: Mosquitto, agent: AgentProcess) -> AsyncIterator[ControlPlane]:
    async with control_plane(broker) as cp:
        await cp.wait(topics.status(7), lambda s: s["code"] == 0)
        yield cp


def job(job_id: int = 1, files: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"job": {"plan_id": 10, "job_id": job_id, "files": files or {}, "extra": {}}}


async def finish(cp: ControlPlane, job_id: int = 1, since: int = 0) -> list[dict[str, Any]]:
    """Wait for the job's terminal event; answer its events, de-duplicated, by seq."""
    await cp.wait(EVENTS, lambda e: e["job_id"] == job_id and e["state"] in TERMINAL, since=since)
    return unique(cp.all(EVENTS, since), job_id)


def unique(events: list[dict[str, Any]], job_id: int | None = None) -> list[dict[str, Any]]:
    by_seq = {e["seq"]: e for e in events if job_id is None or e["job_id"] == job_id}
    return [by_seq[s] for s in sorted(by_seq)]


def states(events: list[dict[str, Any]]) -> list[str]:
    return [e["state"] for e in events]


def assert_gap_free(events: list[dict[str, Any]]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    assert len({e["stream"] for e in events}) == 1


async def test_a_job_without_files_succeeds_with_gap_free_events(cp: ControlPlane) -> None:
    response = await cp.call("job_start", job())
    assert response["result"] == {"accepted": True}
    events = await finish(cp)
    assert states(events) == [
        "accepted",
        "preparing",
        "running",
        "running",
        "running",
        "running",
        "succeeded",
    ]
    assert events[0]["seq"] == 1
    assert_gap_free(events)
    progress = [e["progress"] for e in events if e["state"] == "running" and "progress" in e]
    assert progress[-1] == {"current": 3, "total": 3, "percent": 100.0}
    assert all(e["plan_id"] == 10 and e["job_id"] == 1 for e in events)
    # Acked, nothing comes again; a retried start of the same job runs nothing.
    await cp.ack(events[-1]["stream"], events[-1]["seq"])
    since = len(cp.seen)
    assert (await cp.call("job_start", job()))["result"] == {"accepted": True}
    await cp.drain(0.5)
    assert cp.all(EVENTS, since) == []


@pytest.mark.parametrize("settings", [{"steps": 50, "step_s": 0.1}])
async def test_start_is_idempotent_a_second_job_is_busy_and_cancel_stops(
    cp: ControlPlane,
) -> None:
    assert (await cp.call("job_start", job(1)))["result"] == {"accepted": True}
    assert (await cp.call("job_start", job(1)))["result"] == {"accepted": True}
    busy = await cp.call("job_start", job(2))
    assert busy["error"]["code"] == RpcErrorCode.BUSY
    await cp.wait(EVENTS, lambda e: e["state"] == "running" and "progress" in e)
    assert (await cp.call("job_cancel", {"plan_id": 10, "job_id": 1}))["result"] == {}
    events = await finish(cp)
    assert states(events).count("accepted") == 1
    assert events[-1]["state"] == "cancelled"
    assert events[-1]["reason"] == "cancelled"
    assert_gap_free(events)
    # Cancel again: idempotent. The vehicle was told to hold.
    assert (await cp.call("job_cancel", {"plan_id": 10, "job_id": 1}))["result"] == {}
    status = await cp.wait(topics.msg(7, "drone_status"), lambda s: s["mode"] == "HOLD")
    assert status["mode"] == "HOLD"
    # The node is free again.
    assert (await cp.call("job_start", job(2)))["result"] == {"accepted": True}


@pytest.mark.parametrize("settings", [{"steps": 50, "step_s": 0.1}])
async def test_emergency_stop_aborts_the_job(cp: ControlPlane) -> None:
    await cp.call("job_start", job(1))
    await cp.wait(EVENTS, lambda e: e["state"] == "running")
    assert (await cp.call("emergency_stop"))["result"] == {}
    events = await finish(cp)
    assert (events[-1]["state"], events[-1]["reason"]) == ("cancelled", "emergency_stop")
    await cp.wait(topics.msg(7, "drone_status"), lambda s: s["mode"] == "LAND")


@pytest.mark.parametrize("settings", [{"steps": 4, "step_s": 0.01, "fail_at_step": 2}])
async def test_a_driver_failure_fails_the_job(cp: ControlPlane) -> None:
    await cp.call("job_start", job())
    events = await finish(cp)
    assert (events[-1]["state"], events[-1]["reason"]) == ("failed", "driver_error")
    assert "step 2" in events[-1]["detail"]


async def test_a_job_with_a_file_downloads_it_with_the_node_token(
    cp: ControlPlane, blobs: BlobServer, tmp_path: Path
) -> None:
    content = b"QGC WPL 110\n" + b"0\t1\t0\t16\t0\t0\t0\t0\t47.1\t8.5\t10\t1\n" * 100
    ref = blobs.add("41", content)
    assert (await cp.call("job_start", job(1, {"mission": ref})))["result"] == {"accepted": True}
    events = await finish(cp)
    assert events[-1]["state"] == "succeeded", events[-1]
    assert_gap_free(events)
    assert blobs.downloads == ["41"]
    assert blobs.token_requests == 1
    stored = tmp_path / "agent-data" / "files" / ref["sha256"]
    assert stored.read_bytes() == content
    # Another job with the same file uses the stored copy; a damaged copy is fetched again.
    await cp.call("job_start", job(2, {"mission": ref}))
    assert (await finish(cp, 2))[-1]["state"] == "succeeded"
    assert blobs.downloads == ["41"]
    stored.write_bytes(b"X" * len(content))
    await cp.call("job_start", job(3, {"mission": ref}))
    assert (await finish(cp, 3))[-1]["state"] == "succeeded"
    assert blobs.downloads == ["41", "41"]
    assert stored.read_bytes() == content


async def test_a_refused_token_is_renewed_once(cp: ControlPlane, blobs: BlobServer) -> None:
    first = blobs.add("44", b"first file")
    await cp.call("job_start", job(1, {"mission": first}))
    assert (await finish(cp, 1))[-1]["state"] == "succeeded"
    blobs.token = "rotated-" + blobs.token  # the agent's cached token is now refused
    second = blobs.add("45", b"second file")
    since = len(cp.seen)
    await cp.call("job_start", job(2, {"mission": second}))
    events = await finish(cp, 2, since)
    assert events[-1]["state"] == "succeeded", events[-1]
    assert (blobs.token_requests, blobs.refused, blobs.downloads) == (2, 1, ["44", "45"])


async def test_a_checksum_mismatch_fails_the_job(cp: ControlPlane, blobs: BlobServer) -> None:
    ref = blobs.add("42", b"the real bytes")
    blobs.blobs["42"] = b"the evil bytes"  # same size, other content
    await cp.call("job_start", job(1, {"mission": ref}))
    events = await finish(cp)
    assert states(events) == ["accepted", "preparing", "failed"]
    assert events[-1]["reason"] == "checksum_mismatch"


async def test_a_missing_blob_fails_the_job(cp: ControlPlane, blobs: BlobServer) -> None:
    ref = blobs.add("43", b"x")
    del blobs.blobs["43"]
    await cp.call("job_start", job(1, {"mission": ref}))
    events = await finish(cp)
    assert (events[-1]["state"], events[-1]["reason"]) == ("failed", "file_fetch_failed")
    assert "404" in events[-1]["detail"]


@pytest.mark.slow
async def test_unacked_events_are_published_again_until_acked(cp: ControlPlane) -> None:
    await cp.call("job_start", job())
    events = await finish(cp)
    last = events[-1]
    # Not acked: the agent sends them all again after ~5 s, in order.
    since = len(cp.seen)
    await cp.wait(EVENTS, lambda e: e["seq"] == last["seq"], since=since, timeout_s=10)
    again = cp.all(EVENTS, since)
    assert [e["seq"] for e in again] == [e["seq"] for e in events]
    # Ack half, ask for a replay: what follows comes at once.
    middle = events[len(events) // 2]["seq"]
    since = len(cp.seen)
    await cp.ack(last["stream"], middle, replay=True)
    await cp.wait(EVENTS, lambda e: e["seq"] == last["seq"], since=since, timeout_s=2)
    assert [e["seq"] for e in cp.all(EVENTS, since)] == list(range(middle + 1, last["seq"] + 1))
    # Everything acked: silence (an ack of another stream changes nothing).
    await cp.ack("another-stream", 10**6)
    await cp.ack(last["stream"], last["seq"])
    since = len(cp.seen)
    await cp.drain(6.0)
    assert cp.all(EVENTS, since) == []


@pytest.mark.parametrize("settings", [{"steps": 100, "step_s": 0.1}])
@pytest.mark.parametrize(("sig", "status_code"), [(signal.SIGKILL, 2), (signal.SIGTERM, 1)])
async def test_a_stopped_agent_reports_its_job_failed_and_replays_events_on_restart(
    cp: ControlPlane, agent: AgentProcess, sig: signal.Signals, status_code: int
) -> None:
    await cp.call("job_start", job())
    before = await cp.wait(EVENTS, lambda e: e["state"] == "running" and "progress" in e)
    agent.stop(sig)
    await cp.wait(topics.status(7), lambda s: s["code"] == status_code)
    since = len(cp.seen)
    agent.start()
    await cp.wait(topics.status(7), lambda s: s["code"] == 0, since=since)
    failed = await cp.wait(EVENTS, lambda e: e["state"] == "failed", since=since)
    assert failed["reason"] == "agent_restarted"
    assert failed["stream"] == before["stream"]
    assert failed["seq"] > before["seq"]
    replayed = unique(cp.all(EVENTS, since))
    assert replayed[0]["seq"] == 1  # nothing was acked: all of it again, in order
    assert_gap_free(replayed)
    # The node takes new work.
    assert (await cp.call("job_start", job(2)))["result"] == {"accepted": True}


async def test_events_of_a_job_survive_a_broker_restart(tmp_path: Path, blobs: BlobServer) -> None:
    """The agent reconnects to a restarted broker, announces itself, replays the outbox."""
    port = free_port()
    config = make_config(tmp_path, f"mqtt://127.0.0.1:{port}", control_plane_url=blobs.url)
    with run_agent(config) as agent:
        with run_mosquitto(tmp_path / "b1", port) as first:
            async with control_plane(first) as cp:
                await cp.wait(topics.status(7), lambda s: s["code"] == 0)
                await cp.call("job_start", job())
                events = await finish(cp)
        agent.wait_log("broker link lost")
        with run_mosquitto(tmp_path / "b2", port) as second:
            async with control_plane(second) as cp:
                await cp.wait(topics.status(7), lambda s: s["code"] == 0, timeout_s=15)
                await cp.wait(EVENTS, lambda e: e["seq"] == events[-1]["seq"])
                assert unique(cp.all(EVENTS)) == events
