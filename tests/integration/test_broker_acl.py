"""Both brokers, for real: who may log in, publish and subscribe (DESIGN §7).

Every case runs against the embedded broker and against Mosquitto on the files
``gosd mqtt config`` writes, with nodes and secrets from a real database. A denial is
silent in MQTT 3.1.1, so "never arrives" is proved with a barrier: after the denied
message the same sender sends an allowed one, and the receiver must get the allowed one
first (one sender's messages arrive in order), not the denied one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import NamedTuple

import aiomqtt
import pytest

from control_plane.db.lifecycle import open_database
from control_plane.services import nodes
from control_plane.services.nodes import NodeWrite
from control_plane.services.principal import Principal
from shared import topics
from shared.enums import NodeType
from shared.topics import CONTROL_PLANE_USERNAME, node_username
from tests import brokers
from tests.brokers import RunningBroker

pytestmark = pytest.mark.integration

ADMIN = Principal(kind="user", id=0, group_id=0, name="test", is_admin=True)
RECEIVE_TIMEOUT_S = 5.0


class Fleet(NamedTuple):
    """Two nodes of the database and their secrets."""

    one: int
    one_secret: str
    two: int
    two_secret: str


@pytest.fixture
async def fleet(database_url: str) -> AsyncIterator[Fleet]:
    async with open_database(database_url):
        created = [
            await nodes.create_node(
                ADMIN, NodeWrite(name=name, type_name=NodeType.AIR), group="demo"
            )
            for name in ("one", "two")
        ]
        yield Fleet(created[0].id, created[0].secret, created[1].id, created[1].secret)


@pytest.fixture(params=["embedded", "mosquitto"])
async def broker(
    request: pytest.FixtureRequest, fleet: Fleet, tmp_path: Path
) -> AsyncIterator[RunningBroker]:
    started: AbstractAsyncContextManager[RunningBroker]
    if request.param == "mosquitto":
        started = brokers.mosquitto(tmp_path / "mosquitto", await nodes.broker_accounts())
    else:
        started = brokers.embedded()
    async with started as running:
        yield running


def client(broker: RunningBroker, username: str | None, password: str | None) -> aiomqtt.Client:
    return aiomqtt.Client(broker.host, broker.port, username=username, password=password)


def control_plane(broker: RunningBroker) -> aiomqtt.Client:
    return client(broker, CONTROL_PLANE_USERNAME, broker.control_plane_password)


async def receive_until(c: aiomqtt.Client, topic: str) -> list[aiomqtt.Message]:
    """Every message up to and including the first one on ``topic`` (the barrier)."""
    received: list[aiomqtt.Message] = []
    async with asyncio.timeout(RECEIVE_TIMEOUT_S):
        async for message in c.messages:
            received.append(message)
            if message.topic.matches(topic):
                return received
    raise AssertionError("disconnected before the barrier arrived")


async def test_a_node_logs_in_with_its_secret(broker: RunningBroker, fleet: Fleet) -> None:
    async with client(broker, node_username(fleet.one), fleet.one_secret) as c:
        await c.publish(topics.status(fleet.one), b"online", qos=1)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("node-{one}", "wrong"),
        ("node-{one}", "{two_secret}"),  # another node's secret
        ("node-{two}", "{one_secret}"),
        ("node-999", "{one_secret}"),  # no such node
        ("node-0{one}", "{one_secret}"),  # not the canonical spelling of the id
        (CONTROL_PLANE_USERNAME, "wrong"),
        (CONTROL_PLANE_USERNAME, ""),
        (None, None),  # anonymous
    ],
)
async def test_bad_credentials_are_refused(
    broker: RunningBroker, fleet: Fleet, username: str | None, password: str | None
) -> None:
    values = fleet._asdict()
    user = username.format(**values) if username else None
    secret = password.format(**values) if password is not None else None
    with pytest.raises(aiomqtt.MqttError):
        async with client(broker, user, secret):
            pass


async def test_a_node_cannot_publish_as_another_node(broker: RunningBroker, fleet: Fleet) -> None:
    async with (
        control_plane(broker) as cp,
        client(broker, node_username(fleet.one), fleet.one_secret) as node,
    ):
        await cp.subscribe("#", qos=1)
        forged = [
            topics.status(fleet.two),
            topics.events(fleet.two),
            topics.msg(fleet.two, "position"),
            topics.rpc_recv(fleet.two),
            topics.rpc_send(fleet.two),  # only the control plane sends requests
            topics.events_ack(fleet.one),  # ... and acknowledgements
            topics.plan_running(1),
            f"nodes/0{fleet.one}/status",
            "anything/else",
        ]
        for topic in forged:
            await node.publish(topic, b"forged", qos=1)
        await node.publish(topics.status(fleet.one), b"barrier", qos=1)

        received = await receive_until(cp, topics.status(fleet.one))
    assert [(m.topic.value, m.payload) for m in received] == [
        (topics.status(fleet.one), b"barrier")
    ]


@pytest.mark.parametrize(
    "hostile_filter",
    [
        "nodes/{two}/rpc/send",
        "nodes/+/rpc/send",
        "nodes/{two}/#",
        "nodes/#",
        "+/{two}/rpc/send",
        "#",
        "$SYS/#",
        "nodes/0{two}/rpc/send",
    ],
)
async def test_a_node_cannot_read_another_nodes_requests(
    broker: RunningBroker, fleet: Fleet, hostile_filter: str
) -> None:
    own = topics.rpc_send(fleet.one)
    async with (
        control_plane(broker) as cp,
        client(broker, node_username(fleet.one), fleet.one_secret) as node,
    ):
        await node.subscribe(hostile_filter.format(two=fleet.two), qos=1)
        await node.subscribe(own, qos=1)
        await cp.publish(topics.rpc_send(fleet.two), b"for node two", qos=1)
        await cp.publish(topics.events_ack(fleet.two), b"for node two", qos=1)
        await cp.publish(topics.status(fleet.two), b"for node two", qos=1)
        await cp.publish(own, b"barrier", qos=1)

        received = await receive_until(node, own)
    # Mosquitto grants the hostile subscription and then withholds every message the
    # ACL does not let the node read; the node's own request may come once per filter.
    assert {(m.topic.value, m.payload) for m in received} == {(own, b"barrier")}


async def test_a_node_reads_its_requests_and_acks(broker: RunningBroker, fleet: Fleet) -> None:
    async with (
        control_plane(broker) as cp,
        client(broker, node_username(fleet.one), fleet.one_secret) as node,
    ):
        await node.subscribe(topics.rpc_send(fleet.one), qos=1)
        await node.subscribe(topics.events_ack(fleet.one), qos=1)
        await cp.publish(topics.events_ack(fleet.one), b'{"seq": 1}', qos=1)
        await cp.publish(topics.rpc_send(fleet.one), b"request", qos=1)
        received = await receive_until(node, topics.rpc_send(fleet.one))
    assert [(m.topic.value, m.payload) for m in received] == [
        (topics.events_ack(fleet.one), b'{"seq": 1}'),
        (topics.rpc_send(fleet.one), b"request"),
    ]


async def test_the_control_plane_may_publish_and_subscribe_everything(
    broker: RunningBroker, fleet: Fleet
) -> None:
    async with (
        control_plane(broker) as cp,
        client(broker, node_username(fleet.one), fleet.one_secret) as node,
    ):
        await cp.subscribe("#", qos=1)
        await cp.subscribe(topics.node_filter(topics.NodeTopic.STATUS), qos=1)
        await node.publish(topics.msg(fleet.one, "position"), b"from the node", qos=1)
        sent = [topics.rpc_send(fleet.two), topics.plan_running(3), "any/topic/at/all"]
        for topic in sent:
            await cp.publish(topic, b"from the control plane", qos=1)
        received = await receive_until(cp, sent[-1])
    assert [m.topic.value for m in received] == [topics.msg(fleet.one, "position"), *sent]


async def test_retained_messages_reach_only_their_subscribers(
    broker: RunningBroker, fleet: Fleet
) -> None:
    """amqtt 0.12 sent a connecting client the retained messages of everyone's filters."""
    async with control_plane(broker) as cp:
        await cp.subscribe(topics.node_filter(topics.NodeTopic.STATUS), qos=1)
        async with client(broker, node_username(fleet.two), fleet.two_secret) as two:
            await two.publish(topics.status(fleet.two), b"two, retained", qos=1, retain=True)
        await receive_until(cp, topics.status(fleet.two))  # it is stored by now

        async with client(broker, node_username(fleet.one), fleet.one_secret) as one:
            own = topics.rpc_send(fleet.one)
            await one.subscribe(own, qos=1)
            await cp.publish(own, b"barrier", qos=1)
            received = await receive_until(one, own)
    assert [(m.topic.value, m.payload) for m in received] == [(own, b"barrier")]

    # Whoever subscribes does get it.
    async with control_plane(broker) as later:
        await later.subscribe(topics.status(fleet.two), qos=1)
        [retained] = await receive_until(later, topics.status(fleet.two))
    assert (retained.payload, retained.retain) == (b"two, retained", True)


@pytest.mark.parametrize("clean_session", [True, False])
async def test_a_refused_login_leaves_the_session_of_its_client_id_alone(
    broker: RunningBroker, fleet: Fleet, clean_session: bool
) -> None:
    """amqtt 0.12 took over (or rewrote) the session before it checked the password."""
    own = topics.rpc_send(fleet.one)
    victim = aiomqtt.Client(
        broker.host,
        broker.port,
        username=node_username(fleet.one),
        password=fleet.one_secret,
        identifier="victim",
        clean_session=False,
    )
    async with control_plane(broker) as cp, victim:
        await victim.subscribe(own, qos=1)
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client(
                broker.host,
                broker.port,
                username=CONTROL_PLANE_USERNAME,
                password="wrong",
                identifier="victim",
                clean_session=clean_session,
            ):
                pass
        # Still the victim's: subscribed, and not promoted to the claimed username.
        await victim.subscribe(topics.rpc_send(fleet.two), qos=1)
        await cp.publish(topics.rpc_send(fleet.two), b"for node two", qos=1)
        await cp.publish(own, b"barrier", qos=1)
        received = await receive_until(victim, own)
    assert {(m.topic.value, m.payload) for m in received} == {(own, b"barrier")}


def _mqtt_string(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _connect_with_will(client_id: str, username: str, password: str, will: str) -> bytes:
    """An MQTT 3.1.1 CONNECT with a QoS 1 will, by hand: aiomqtt cannot drop a
    connection without DISCONNECT, which is what makes a broker send the will."""
    flags = 0x80 | 0x40 | 0x08 | 0x04 | 0x02  # username, password, will QoS 1, will, clean
    body = _mqtt_string(b"MQTT") + bytes([4, flags]) + (60).to_bytes(2, "big")
    body += b"".join(
        _mqtt_string(field.encode())
        for field in (client_id, will, '{"method": "emergency_stop"}', username, password)
    )
    length, remaining = bytearray(), len(body)
    while True:  # the variable-length "remaining length" of the fixed header
        remaining, digit = divmod(remaining, 128)
        length.append(digit | (0x80 if remaining else 0))
        if not remaining:
            return bytes([0x10]) + bytes(length) + body


async def test_a_will_on_a_foreign_topic_never_arrives(broker: RunningBroker, fleet: Fleet) -> None:
    """A will is a publish: amqtt 0.12 sent it anywhere (we refuse such a login now);
    Mosquitto accepts the login and withholds the will when it fires."""
    forged_topic = topics.rpc_send(fleet.two)
    async with control_plane(broker) as cp:
        await cp.subscribe("#", qos=1)
        reader, writer = await asyncio.open_connection(broker.host, broker.port)
        writer.write(
            _connect_with_will("evil", node_username(fleet.one), fleet.one_secret, forged_topic)
        )
        async with asyncio.timeout(RECEIVE_TIMEOUT_S):
            connack = await reader.read(4)
        writer.transport.abort()  # no DISCONNECT: the will is due
        assert connack[:2] == b"\x20\x02"
        # Connecting with the same client id returns only once the broker is done with the
        # dropped connection, will included; then a message of node 1 is the barrier.
        async with aiomqtt.Client(
            broker.host,
            broker.port,
            username=node_username(fleet.one),
            password=fleet.one_secret,
            identifier="evil",
        ) as one:
            await one.publish(topics.status(fleet.one), b"barrier", qos=1)
            received = await receive_until(cp, topics.status(fleet.one))
    assert [(m.topic.value, m.payload) for m in received] == [
        (topics.status(fleet.one), b"barrier")
    ]


async def test_a_node_may_leave_a_will_on_its_status(broker: RunningBroker, fleet: Fleet) -> None:
    will = aiomqtt.Will(topics.status(fleet.one), b'{"code": 2}', qos=1, retain=True)
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username=node_username(fleet.one),
        password=fleet.one_secret,
        will=will,
    ):
        pass


async def test_a_node_cannot_take_over_the_control_planes_persistent_session(
    broker: RunningBroker, fleet: Fleet
) -> None:
    """Messages queued for an offline session never go to another user reusing its id."""
    cp_id = "control-plane-session"
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username=CONTROL_PLANE_USERNAME,
        password=broker.control_plane_password,
        identifier=cp_id,
        clean_session=False,
    ) as cp:
        await cp.subscribe(topics.node_filter(topics.NodeTopic.STATUS), qos=1)
    async with client(broker, node_username(fleet.two), fleet.two_secret) as two:
        await two.publish(topics.status(fleet.two), b"queued for the control plane", qos=1)

    thief = aiomqtt.Client(
        broker.host,
        broker.port,
        username=node_username(fleet.one),
        password=fleet.one_secret,
        identifier=cp_id,
        clean_session=False,
    )
    try:
        async with thief:
            own = topics.rpc_send(fleet.one)
            await thief.subscribe(own, qos=1)
            async with control_plane(broker) as cp:
                await cp.publish(own, b"barrier", qos=1)
            received = await receive_until(thief, own)
    except aiomqtt.MqttError:
        return  # refused outright: as good
    assert {(m.topic.value, m.payload) for m in received} == {(own, b"barrier")}
