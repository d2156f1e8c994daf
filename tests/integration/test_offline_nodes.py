"""Questions for a node that is not connected are answered 503 at once, not after the
RPC timeout; a node that is online but silent still gets the whole timeout.

The control plane runs in process on the real embedded broker; the node is a real MQTT
client with the node's own credentials, playing its agent's part by hand.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
import httpx
import pytest
from litestar.testing import AsyncTestClient

from control_plane.settings import Settings
from shared import topics
from shared.codec import decode, encode
from shared.enums import JobStatus
from shared.messages import AgentInfo, JobEvent, NodeStatus, RpcRequest, RpcResponse, StatusCode
from tests.support import until

pytestmark = pytest.mark.integration

LONG_RPC_TIMEOUT_S = 30
AT_ONCE_S = 3.0
"""A person's question for an offline node is answered within this, a tenth of the timeout."""


@pytest.fixture
def rpc_timeout_s() -> int:
    return LONG_RPC_TIMEOUT_S


@pytest.fixture
def settings(settings: Settings, rpc_timeout_s: int) -> Settings:
    return settings.with_changes(rpc_timeout_s=rpc_timeout_s)


def status(code: StatusCode) -> bytes:
    return encode(
        NodeStatus(
            code=code,
            msg=code.label,
            timestamp=str(int(time.time())),
            status={"type": "drone"},
            agent=AgentInfo(version="test", capabilities=["job_start", "history"]),
        )
    )


async def timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


async def make_plan(client: AsyncTestClient[Any], auth: dict[str, str], node_id: int) -> int:
    r = await client.post(
        "/gosd/api/v2/plans/", headers=auth, json={"name": "p", "node_id": node_id}
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def state_is(
    client: AsyncTestClient[Any], auth: dict[str, str], node_id: int, state: str
) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        r = await client.get(f"/gosd/api/v2/nodes/{node_id}/status", headers=auth)
        return bool(r.json()["state"] == state)

    return probe


def assert_offline_503(r: httpx.Response, took: float, node_id: int, state: str) -> None:
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["code"] == "node_unreachable" and body["node_id"] == node_id, body
    assert body["node_state"] == state, body
    assert took < AT_ONCE_S, f"answered after {took:.1f} s (RPC timeout {LONG_RPC_TIMEOUT_S} s)"


async def test_a_node_never_seen_is_answered_at_once(
    client: AsyncTestClient[Any], auth: dict[str, str]
) -> None:
    r = await client.post(
        "/gosd/api/v2/nodes/", headers=auth, json={"name": "ghost", "type_name": "air"}
    )
    node_id = r.json()["id"]
    r, took = await timed(
        client.get(f"/gosd/api/v2/nodes/{node_id}/msg/position/history", headers=auth)
    )
    assert_offline_503(r, took, node_id, "unknown")
    assert r.json()["since"] is None
    assert "has not connected" in r.json()["error_message"]

    # A job waits for the node (DESIGN §4.2); an emergency stop of it needs no node.
    plan_id = await make_plan(client, auth, node_id)
    job = (await client.post(f"/gosd/api/v2/plans/{plan_id}/jobs/", headers=auth)).json()
    assert job["status"] == JobStatus.QUEUED
    r, took = await timed(client.delete(f"/gosd/api/v2/plans/{plan_id}/jobs/running", headers=auth))
    assert r.status_code == 200 and r.json()["status"] == JobStatus.CANCELLED, r.text
    assert took < AT_ONCE_S


async def next_request(mqtt: aiomqtt.Client, method: str) -> RpcRequest:
    async for message in mqtt.messages:
        assert isinstance(message.payload, bytes)
        request = decode(message.payload, RpcRequest)
        if request.method == method:
            return request
    raise AssertionError("the broker connection ended")


async def test_a_node_gone_offline_is_answered_at_once_and_its_job_goes_on(
    client: AsyncTestClient[Any],
    auth: dict[str, str],
    node: tuple[int, aiomqtt.Client],
) -> None:
    node_id, mqtt = node
    await mqtt.subscribe(topics.rpc_send(node_id), qos=1)
    await mqtt.publish(topics.status(node_id), status(StatusCode.ONLINE), qos=1, retain=True)
    await until(state_is(client, auth, node_id, "online"), "the node is online")

    # The node takes a job and reports it running.
    plan_id = await make_plan(client, auth, node_id)
    await client.post(f"/gosd/api/v2/plans/{plan_id}/jobs/", headers=auth)
    start = await next_request(mqtt, "job_start")
    answer = RpcResponse(id=start.id, result={"accepted": True})
    await mqtt.publish(topics.rpc_recv(node_id), encode(answer), qos=1)
    for seq, state in enumerate([JobStatus.ACCEPTED, JobStatus.RUNNING], start=1):
        event = JobEvent(
            seq=seq, stream="s", plan_id=plan_id, job_id=1, state=state, time=time.time()
        )
        await mqtt.publish(topics.events(node_id), encode(event), qos=1)
    job_url = f"/gosd/api/v2/plans/{plan_id}/jobs/1"

    async def running() -> bool:
        r = await client.get(job_url, headers=auth)
        return bool(r.json()["status"] == JobStatus.RUNNING)

    await until(running, "the job runs")

    await mqtt.publish(topics.status(node_id), status(StatusCode.OFFLINE), qos=1, retain=True)
    await until(state_is(client, auth, node_id, "offline"), "the node is offline")
    since = (await client.get(f"/gosd/api/v2/nodes/{node_id}/status", headers=auth)).json()["since"]

    base = f"/gosd/api/v2/plans/{plan_id}/jobs"
    for question in (
        client.get(f"/gosd/api/v2/nodes/{node_id}/msg/battery/history?time=5", headers=auth),
        client.post(f"{base}/1/cancel", headers=auth),
        client.post(f"{base}/cancel", headers=auth),
        client.delete(f"{base}/running", headers=auth),
    ):
        r, took = await timed(question)
        assert_offline_503(r, took, node_id, "offline")
        assert r.json()["since"] == since
        assert "offline since" in r.json()["error_message"]
    job = (await client.get(job_url, headers=auth)).json()
    assert job["status"] == JobStatus.RUNNING, "nothing reached the node: its job goes on"


@pytest.mark.parametrize("rpc_timeout_s", [2])
async def test_an_online_node_that_does_not_answer_gets_the_whole_timeout(
    client: AsyncTestClient[Any],
    auth: dict[str, str],
    node: tuple[int, aiomqtt.Client],
    rpc_timeout_s: int,
) -> None:
    node_id, mqtt = node
    await mqtt.publish(topics.status(node_id), status(StatusCode.ONLINE), qos=1, retain=True)
    await until(state_is(client, auth, node_id, "online"), "the node is online")
    r, took = await timed(
        client.get(f"/gosd/api/v2/nodes/{node_id}/msg/position/history", headers=auth)
    )
    assert r.status_code == 503 and r.json()["code"] == "node_unreachable", r.text
    assert "did not answer" in r.json()["error_message"]
    assert took >= rpc_timeout_s, f"gave up after {took:.1f} s of {rpc_timeout_s} s"
