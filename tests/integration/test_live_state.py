"""Live node state over HTTP: status, telemetry and the read bridge, fed by a node
publishing on the real embedded broker. (The SSE stream needs a real server: e2e.)"""

from __future__ import annotations

from typing import Any

import aiomqtt
import pytest
from litestar.testing import AsyncTestClient

from shared import topics
from shared.codec import encode
from shared.messages import AgentInfo, Network, NodeStatus, Position, StatusCode
from tests.support import until

pytestmark = pytest.mark.integration


def status(code: StatusCode) -> bytes:
    return encode(
        NodeStatus(
            code=code,
            msg=code.label,
            timestamp="1700000000",
            status={"type": "drone"},
            agent=AgentInfo(version="9.9", capabilities=["ping"]),
        )
    )


async def test_status_telemetry_and_the_read_bridge(
    client: AsyncTestClient[Any],
    auth: dict[str, str],
    other_auth: dict[str, str],
    node: tuple[int, aiomqtt.Client],
) -> None:
    node_id, mqtt = node
    base = f"/gosd/api/v2/nodes/{node_id}"
    assert (await client.get(f"{base}/status", headers=auth)).json()["state"] == "unknown"
    assert (await client.get(f"{base}/msg/position", headers=auth)).status_code == 404

    await mqtt.publish(topics.status(node_id), status(StatusCode.ONLINE), qos=1, retain=True)
    await mqtt.publish(topics.network(node_id), encode(Network(loss=2.5, delay=12.0)), qos=1)
    await mqtt.publish(
        topics.msg(node_id, "position"), encode(Position(lat=47.1, lng=8.5, alt=500.0)), qos=1
    )

    async def position() -> Any:
        r = await client.get(f"{base}/msg/position", headers=auth)
        return r.json() if r.status_code == 200 else None

    sample = await until(position, "the position arrives")
    assert sample["name"] == "position" and sample["data"] == {
        "lat": 47.1,
        "lng": 8.5,
        "alt": 500.0,
    }
    assert sample["received_at"]
    live = (await client.get(f"{base}/status", headers=auth)).json()
    assert live["state"] == "online" and live["since"] and live["last_seen"]
    assert live["link"] == {"loss": 2.5, "delay": 12.0}
    assert live["agent"]["version"] == "9.9" and live["details"] == {"type": "drone"}
    [listed] = [
        n
        for n in (await client.get("/gosd/api/v2/nodes/", headers=auth)).json()
        if n["id"] == node_id
    ]
    assert listed["status"]["state"] == "online"

    bridge = "/gosd/api/v2/mqtt"
    r = await client.get(f"{bridge}/nodes/{node_id}/status", headers=auth)
    assert r.status_code == 200 and r.json()["code"] == 0 and r.json()["msg"] == "online"
    r = await client.get(f"{bridge}/nodes/{node_id}/msg/position", headers=auth)
    assert r.json() == {"lat": 47.1, "lng": 8.5, "alt": 500.0}
    assert (await client.get(f"{bridge}/nodes/{node_id}/network", headers=auth)).json() == {
        "loss": 2.5,
        "delay": 12.0,
    }
    for path, who in [
        (f"nodes/{node_id}/status", other_auth),  # another group's node looks absent
        (f"nodes/{node_id}/msg/nothing", auth),
        (f"nodes/{node_id}/rpc/send", auth),
        ("plans/99/running", auth),
        ("$SYS/broker/uptime", auth),
        ("nodes/+/status", auth),
    ]:
        r = await client.get(f"{bridge}/{path}", headers=who)
        assert r.status_code == 404, (path, r.text)
    assert (await client.get(f"{base}/status", headers=other_auth)).status_code == 404

    await mqtt.publish(topics.status(node_id), status(StatusCode.NETERROR), qos=1, retain=True)

    async def neterror() -> bool:
        r = await client.get(f"{base}/status", headers=auth)
        return bool(r.json()["state"] == "neterror")

    await until(neterror, "the node is neterror")
