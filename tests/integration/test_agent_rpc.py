"""The agent's RPC server against a real broker: at-most-once per id, hostile input (§4.1, §7)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared import codec, topics
from shared.errors import RpcErrorCode
from tests.integration.agent_harness import (
    AgentProcess,
    ControlPlane,
    Mosquitto,
    control_plane,
    make_config,
    run_agent,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def agent(broker: Mosquitto, tmp_path: Path) -> Iterator[AgentProcess]:
    with run_agent(make_config(tmp_path, broker.url)) as agent:
        yield agent


@pytest.fixture
async def cp(broker: Mosquitto, agent: AgentProcess) -> AsyncIterator[ControlPlane]:
    async with control_plane(broker) as cp:
        await cp.wait(topics.status(7), lambda s: s["code"] == 0)
        yield cp


async def test_ping(cp: ControlPlane) -> None:
    response = await cp.call("ping")
    assert response["jsonrpc"] == "2.0"
    assert response["result"]["time"] > 0
    assert "error" not in response


async def test_a_duplicated_request_is_executed_once(cp: ControlPlane) -> None:
    """The second copy gets the cached response (same ``time``: ping did not run again)."""
    since = len(cp.seen)
    request_id = await cp.request("ping", request_id="dup-1")
    await cp.request("ping", request_id=request_id)
    recv = topics.rpc_recv(7)
    first = await cp.wait(recv, lambda r: r["id"] == request_id, since=since)
    second_index = next(i for i, m in enumerate(cp.seen) if i >= since and m.topic == recv) + 1
    second = await cp.wait(recv, lambda r: r["id"] == request_id, since=second_index)
    assert first == second
    # ... and a third copy, later, still gets that same answer.
    since = len(cp.seen)
    await cp.request("ping", request_id=request_id)
    assert await cp.wait(recv, lambda r: r["id"] == request_id, since=since) == first


async def test_a_duplicate_of_a_request_in_progress_is_dropped(cp: ControlPlane) -> None:
    """Copies of a slow request that arrive while it runs get no answer of their own."""
    params = {"name": "calibrate", "params": {"duration_s": 0.5}}
    since = len(cp.seen)
    for _ in range(3):
        await cp.request("action", params, request_id="slow-1")
    recv = topics.rpc_recv(7)
    answer = await cp.wait(recv, lambda r: r["id"] == "slow-1", since=since)
    assert answer["result"] == {"calibrations": 1}
    # A copy after the answer gets the cached answer: still one calibration.
    await cp.request("action", params, request_id="slow-1")
    await cp.drain(0.7)
    answers = [r for r in cp.all(recv, since) if r["id"] == "slow-1"]
    assert answers == [answer, answer]
    fresh = await cp.call("action", {"name": "calibrate", "params": {"duration_s": 0}})
    assert fresh["result"] == {"calibrations": 2}


async def test_errors_carry_the_project_codes_and_messages(cp: ControlPlane) -> None:
    unknown = await cp.call("fly_to_the_moon")
    assert unknown["error"]["code"] == RpcErrorCode.METHOD_NOT_FOUND
    assert unknown["error"]["message"] == RpcErrorCode.METHOD_NOT_FOUND.message
    bad_action = await cp.call("action", {"name": "barrel_roll"})
    assert bad_action["error"]["code"] == RpcErrorCode.UNSUPPORTED
    no_name = await cp.call("action", {})
    assert no_name["error"]["code"] == RpcErrorCode.INVALID_PARAMS
    cancel = await cp.call("job_cancel", {"plan_id": 1, "job_id": 99})
    assert cancel["error"]["code"] == RpcErrorCode.UNKNOWN_JOB
    bad_job = await cp.call("job_start", {"job": {"plan_id": "x"}})
    assert bad_job["error"]["code"] == RpcErrorCode.INVALID_JOB
    evil_file = {"blob_id": "1", "sha256": "../../etc/passwd", "size": 1}
    traversal = await cp.call(
        "job_start", {"job": {"plan_id": 1, "job_id": 1, "files": {"m": evil_file}}}
    )
    assert traversal["error"]["code"] == RpcErrorCode.INVALID_JOB


async def test_actions_reach_the_driver(cp: ControlPlane) -> None:
    takeoff = await cp.call("action", {"name": "takeoff", "params": {"altitude_m": 15}})
    assert takeoff["result"]["status"] == "in_air"
    status = await cp.wait(topics.msg(7, "drone_status"), lambda s: s["status"] == "in_air")
    assert status["height"] == 15.0
    land = await cp.call("action", {"name": "land"})
    assert land["result"]["status"] == "landed"


async def test_history_returns_recent_samples(cp: ControlPlane) -> None:
    await cp.wait(topics.msg(7, "battery"))
    short = await cp.call("history", {"topic": "battery", "time": 60})
    samples = short["result"]
    assert samples, short
    assert {"time", "value"} == samples[0].keys()
    assert "remain" in samples[-1]["value"]
    full = await cp.call("history", {"topic": topics.msg(7, "battery"), "time": 60})
    assert len(full["result"]) >= len(samples)
    none = await cp.call("history", {"topic": "weather"})
    assert none["result"] == []
    bad = await cp.call("history", {"topic": "a/b/#"})
    assert bad["error"]["code"] == RpcErrorCode.INVALID_PARAMS


@pytest.mark.parametrize(
    "payload",
    [
        random.Random(64).randbytes(64),  # noqa: S311 - garbage, the same in every worker
        b"",
        b"null",
        b"[1, 2, 3]",
        b'{"method": 5}',
        b'{"jsonrpc": "1.0", "method": "ping"}',
        b"{" * 10_000,
        b'{"method": "ping", "pad": "' + b"x" * 300_000 + b'"}',
    ],
)
async def test_malformed_requests_are_dropped_and_the_agent_keeps_serving(
    cp: ControlPlane, agent: AgentProcess, payload: bytes
) -> None:
    since = len(cp.seen)
    await cp.send(topics.rpc_send(7), payload)
    await cp.send(topics.events_ack(7), payload)
    response = await cp.call("ping")
    assert "result" in response
    # No answer to what carries no id.
    assert all(r.get("id") is not None for r in cp.all(topics.rpc_recv(7), since))
    assert agent.process is not None and agent.process.poll() is None
    assert "malformed RPC request dropped" in agent.text()
    assert "bad events/ack dropped" in agent.text()


async def test_a_bad_request_with_an_id_is_answered_invalid_request(cp: ControlPlane) -> None:
    since = len(cp.seen)
    await cp.send(topics.rpc_send(7), codec.encode({"id": "bad-1", "method": 42}))
    answer = await cp.wait(topics.rpc_recv(7), lambda r: r["id"] == "bad-1", since=since)
    assert answer["error"]["code"] == RpcErrorCode.INVALID_REQUEST


async def test_a_notification_runs_without_an_answer(cp: ControlPlane) -> None:
    since = len(cp.seen)
    await cp.send(topics.rpc_send(7), codec.encode({"jsonrpc": "2.0", "method": "ping"}))
    await cp.call("ping")
    assert len(cp.all(topics.rpc_recv(7), since)) == 1
