"""The embedded broker's life cycle, and node logins checked against the database."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from control_plane.db.lifecycle import open_database
from control_plane.messaging.broker_login import broker_login
from control_plane.messaging.embedded_broker import BrokerError, EmbeddedBroker
from control_plane.services import nodes
from control_plane.services.accounts import group_by_name
from control_plane.services.hashing import verify_node_secret
from control_plane.services.nodes import NodeCreated, NodeWrite
from control_plane.services.principal import Principal
from shared.enums import NodeType
from shared.topics import CONTROL_PLANE_USERNAME, node_username
from tests.brokers import HOST

pytestmark = pytest.mark.integration

ADMIN = Principal(kind="user", id=0, group_id=0, name="test", is_admin=True)


@pytest.fixture
async def node(database_url: str) -> AsyncIterator[NodeCreated]:
    async with open_database(database_url):
        yield await nodes.create_node(
            ADMIN, NodeWrite(name="one", type_name=NodeType.AIR), group="demo"
        )


async def test_broker_accounts_are_the_stored_hashes(node: NodeCreated) -> None:
    [(node_id, secret_hash)] = await nodes.broker_accounts()
    assert node_id == node.id and verify_node_secret(secret_hash, node.secret)


@pytest.mark.parametrize(
    "username",
    ["node-999", "node-99999999999999999999", "node-0", "node-01", CONTROL_PLANE_USERNAME, "x"],
)
async def test_only_existing_nodes_log_in(node: NodeCreated, username: str) -> None:
    assert await nodes.check_broker_password(node_username(node.id), node.secret)
    assert not await nodes.check_broker_password(node_username(node.id), "wrong")
    assert not await nodes.check_broker_password(username, node.secret)


async def test_rotating_or_removing_a_node_locks_its_old_secret_out(node: NodeCreated) -> None:
    username = node_username(node.id)
    group = await group_by_name("demo")
    admin = Principal(kind="user", id=0, group_id=group.id, name="test", is_admin=True)
    new_secret = await nodes.rotate_secret(admin, node.id)
    assert not await nodes.check_broker_password(username, node.secret)
    assert await nodes.check_broker_password(username, new_secret)
    await nodes.remove_node(node.id)
    assert not await nodes.check_broker_password(username, new_secret)


async def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = EmbeddedBroker(HOST, port, broker_login("pw"))
        with pytest.raises(BrokerError) as caught:
            await broker.start()
    assert str(caught.value) == (
        f"cannot listen on {HOST}:{port} (address already in use): "
        "set GOSD_MQTT_LISTEN to a free host:port"
    )
    assert not any(t.name == "gosd-mqtt-broker" for t in threading.enumerate())


async def test_it_listens_on_the_given_host_only_and_stops_its_thread(node: NodeCreated) -> None:
    checked_on: list[int] = []

    async def authenticate(username: str, password: str) -> bool:
        checked_on.append(threading.get_ident())
        return await broker_login("pw")(username, password)

    broker = EmbeddedBroker(HOST, 0, authenticate)
    await broker.start()
    host, port = broker.address
    try:
        # Bound to 127.0.0.1 alone, not every interface (amqtt's default): another
        # loopback address reaches the same machine but finds nobody listening.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port), timeout=5).close()
        async with aiomqtt.Client(
            host, port, username=node_username(node.id), password=node.secret
        ):
            pass
        # A rotated secret locks the node out at its next connection.
        group = await group_by_name("demo")
        admin = Principal(kind="user", id=0, group_id=group.id, name="test", is_admin=True)
        await nodes.rotate_secret(admin, node.id)
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client(
                host, port, username=node_username(node.id), password=node.secret
            ):
                pass
    finally:
        await broker.stop()
    assert checked_on == [threading.get_ident()] * 2  # on the caller's loop
    assert not any(t.name == "gosd-mqtt-broker" for t in threading.enumerate())
    with socket.socket() as again:  # nobody listens there any more (TIME_WAIT aside)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind((HOST, port))
