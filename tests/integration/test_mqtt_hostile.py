"""What the control plane receives over MQTT from a broken or hostile agent.

The node logs in with its real credentials (so the broker lets everything through)
and sends garbage on every topic the control plane reads. Each message must be logged
and dropped, leave the node's state as it was, and the control plane must go on.
"""

from __future__ import annotations

import os
from typing import Any

import aiomqtt
import pytest
from litestar.testing import AsyncTestClient

from control_plane.messaging.runtime import Messaging
from shared import topics
from shared.codec import encode
from shared.messages import AgentInfo, NodeStatus, Position, StatusCode
from tests.support import until

pytestmark = pytest.mark.integration

GARBAGE: list[bytes] = [
    os.urandom(64),
    b"",
    b"null",
    b"[1, 2, 3]",
    b'{"code": "online"}',
    b'{"seq": -1, "stream": 5}',
    b'{"jsonrpc": "1.0", "id": "x", "result": 1}',
    b'{"lat": "north", "lng": 1}',
    b'{"a": ' * 50_000,
    b"x" * 300_000,
]


async def test_garbage_on_every_topic_is_dropped_and_changes_nothing(
    client: AsyncTestClient[Any],
    auth: dict[str, str],
    node: tuple[int, aiomqtt.Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    node_id, mqtt = node
    messaging: Messaging = client.app.state.messaging
    birth = NodeStatus(
        code=StatusCode.ONLINE, msg="online", timestamp="1", agent=AgentInfo(version="t")
    )
    await mqtt.publish(topics.status(node_id), encode(birth), qos=1)
    position = Position(lat=1.0, lng=2.0)
    await mqtt.publish(topics.msg(node_id, "position"), encode(position), qos=1)

    async def position_arrived() -> Any:
        r = await client.get(f"/gosd/api/v2/nodes/{node_id}/msg/position", headers=auth)
        return r.json() if r.status_code == 200 else None

    first = await until(position_arrived, "the first position arrives")
    before_status = (await client.get(f"/gosd/api/v2/nodes/{node_id}/status", headers=auth)).json()
    dropped_before = messaging.router.dropped

    targets = [
        topics.status(node_id),
        topics.rpc_recv(node_id),
        topics.msg(node_id, "position"),
        topics.network(node_id),
        topics.events(node_id),
    ]
    # An empty payload on a retained topic (status, network, msg) clears it: no garbage
    # but the protocol (tests/integration/test_cleared_topics.py). Elsewhere it is garbage.
    retained = {topics.status(node_id), topics.msg(node_id, "position"), topics.network(node_id)}
    sent = 0
    for topic in targets:
        for payload in GARBAGE:
            if payload or topic not in retained:
                await mqtt.publish(topic, payload, qos=1)
                sent += 1
    # A barrier: the bridge handles one node's messages in order, so once this valid
    # message is visible every garbage message before it has been handled.
    await mqtt.publish(topics.msg(node_id, "barrier"), b'{"ok": true}', qos=1)

    async def barrier() -> bool:
        r = await client.get(f"/gosd/api/v2/nodes/{node_id}/msg/barrier", headers=auth)
        return r.status_code == 200

    await until(barrier, "the barrier arrives")

    assert messaging.router.dropped - dropped_before == sent
    after = (await client.get(f"/gosd/api/v2/nodes/{node_id}/msg/position", headers=auth)).json()
    assert after == first, "garbage never replaces a good telemetry value"
    status = (await client.get(f"/gosd/api/v2/nodes/{node_id}/status", headers=auth)).json()
    assert status["state"] == before_status["state"] == "online"
    assert status["agent"] == before_status["agent"]
    assert (await client.get("/gosd/api/v2/ok")).status_code == 200
    warnings = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(warnings) == 1, "one warning per node and period, not one per message"
