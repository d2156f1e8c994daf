"""An empty retained message clears its topic: the control plane drops what it kept of
it and does not take it for a malformed message; a malformed message is still logged.

The control plane runs in process on the real embedded broker; the node is a real MQTT
client with the node's own credentials.
"""

from __future__ import annotations

import logging
from typing import Any

import aiomqtt
import pytest
from litestar.testing import AsyncTestClient

from control_plane.messaging.runtime import Messaging
from shared import topics
from shared.codec import encode
from shared.messages import Network, Position
from tests.support import until

pytestmark = pytest.mark.integration

MALFORMED = "dropped a malformed message"


def malformed_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if MALFORMED in r.getMessage()]


async def test_cleared_topics_are_dropped_and_deleting_a_node_logs_nothing_malformed(
    client: AsyncTestClient[Any],
    auth: dict[str, str],
    node: tuple[int, aiomqtt.Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="control_plane.messaging")
    messaging: Messaging = client.app.state.messaging
    node_id, mqtt = node
    base = f"/gosd/api/v2/nodes/{node_id}"
    position = encode(Position(lat=47.1, lng=8.5, alt=500.0))

    async def telemetry(name: str) -> int:
        return (await client.get(f"{base}/msg/{name}", headers=auth)).status_code

    async def battery_known() -> bool:
        return await telemetry("battery") == 200

    async def link() -> Any:
        return (await client.get(f"{base}/status", headers=auth)).json()["link"]

    await mqtt.publish(topics.msg(node_id, "position"), position, qos=1, retain=True)
    await mqtt.publish(topics.msg(node_id, "battery"), b'{"remain": 80}', qos=1, retain=True)
    await mqtt.publish(
        topics.network(node_id), encode(Network(loss=1, delay=5)), qos=1, retain=True
    )
    await until(battery_known, "the battery is known")
    await until(link, "the link is known")

    # The node clears a topic of its own: the control plane forgets its value.
    await mqtt.publish(topics.msg(node_id, "battery"), b"", qos=1, retain=True)
    await mqtt.publish(topics.network(node_id), b"", qos=1, retain=True)

    async def battery_gone() -> bool:
        return await telemetry("battery") == 404

    async def link_gone() -> bool:
        return await link() is None

    await until(battery_gone, "the cleared battery is gone")
    await until(link_gone, "the cleared link is gone")
    assert await telemetry("position") == 200, "only the cleared topic is dropped"

    # Deleting the node clears its retained topics; the control plane gets its own
    # clears back. A message it publishes afterwards (for another node) arrives after
    # them: once that one is seen, the clears have been handled.
    await mqtt.publish(
        topics.network(node_id), encode(Network(loss=1, delay=5)), qos=1, retain=True
    )
    await until(link, "the link is known again")
    other = await client.post(
        "/gosd/api/v2/nodes/", headers=auth, json={"name": "other", "type_name": "air"}
    )
    other_id = other.json()["id"]
    r = await client.delete(base, headers=auth)
    assert r.status_code == 200, r.text
    await messaging.bridge.publish(topics.msg(other_id, "position"), position, qos=1)

    async def sentinel() -> bool:
        r = await client.get(f"/gosd/api/v2/nodes/{other_id}/msg/position", headers=auth)
        return r.status_code == 200

    await until(sentinel, "the control plane's later message comes back")
    assert malformed_warnings(caplog) == []
    assert messaging.router.dropped == 0
    assert (await client.get(f"{base}/status", headers=auth)).status_code == 404

    # A malformed message is still a malformed message.
    await messaging.bridge.publish(topics.network(other_id), b'{"loss": "much"}', qos=1)

    async def warned() -> list[str]:
        return malformed_warnings(caplog)

    [warning] = await until(warned, "the malformed message is logged")
    assert topics.network(other_id) in warning
    assert messaging.router.dropped == 1
    # ... and so is an empty one where no message is retained (rate-limited: counted).
    await messaging.bridge.publish(topics.events(other_id), b"", qos=1)

    async def dropped_twice() -> bool:
        return messaging.router.dropped == 2

    await until(dropped_twice, "the empty event is dropped")
