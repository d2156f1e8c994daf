"""Fixtures of the integration tests: MQTT to the in-process control plane, a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from litestar.testing import AsyncTestClient

from control_plane.messaging.runtime import Messaging
from shared import topics
from tests.browser import browser  # noqa: F401 - a fixture of these tests
from tests.integration.agent_harness import BlobServer, Mosquitto, run_mosquitto
from tests.support import until


@pytest.fixture
async def node(
    client: AsyncTestClient[Any], auth: dict[str, str]
) -> AsyncIterator[tuple[int, aiomqtt.Client]]:
    """A new node of the demo group, connected with its own credentials to the control
    plane's embedded broker once the control plane's bridge is up."""
    r = await client.post(
        "/gosd/api/v2/nodes/", headers=auth, json={"name": "d", "type_name": "air"}
    )
    assert r.status_code == 201, r.text
    node_id, secret = r.json()["id"], r.json()["secret"]
    messaging: Messaging = client.app.state.messaging

    async def connected() -> bool:
        return messaging.bridge.connected.is_set()

    await until(connected, "the bridge is connected")
    host, port = messaging.broker_address
    async with aiomqtt.Client(
        host, port, username=topics.node_username(node_id), password=secret
    ) as mqtt:
        yield node_id, mqtt


@pytest.fixture
def blobs() -> Iterator[BlobServer]:
    """The control plane's file downloads, as node 7 (the agent tests' node) sees them."""
    with BlobServer("node-7", "node-secret-7") as server:
        yield server


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A Mosquitto of this test's own (the agent tests' broker; a module may set up
    another)."""
    with run_mosquitto(tmp_path / "broker") as broker:
        yield broker
