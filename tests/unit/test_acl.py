"""The broker ACL: a node reaches only its own topics; hostile filters get nothing."""

from __future__ import annotations

import pytest

from control_plane.messaging.acl import may_publish, may_subscribe
from shared import topics
from shared.topics import CONTROL_PLANE_USERNAME

NODE = "node-1"


@pytest.mark.parametrize(
    "topic",
    [
        topics.status(1),
        topics.rpc_recv(1),
        topics.msg(1, "position"),
        topics.msg(1, "drone_status"),
        topics.network(1),
        topics.events(1),
    ],
)
def test_a_node_publishes_its_own_topics(topic: str) -> None:
    assert may_publish(NODE, topic)


@pytest.mark.parametrize(
    "topic",
    [
        topics.status(2),
        topics.events(2),
        topics.msg(2, "position"),
        topics.rpc_send(1),  # only the control plane sends requests
        topics.events_ack(1),  # only the control plane acknowledges
        topics.plan_running(1),
        "nodes/01/status",
        "nodes/1/status/extra",
        "nodes/1/msg/position/extra",
        "nodes/1/msg/+",
        "nodes/1/msg/#",
        "nodes/1/#",
        "nodes/+/status",
        "#",
        "$SYS/broker/uptime",
        "nodes/1",
        "nodes/1/",
        "/nodes/1/status",
        "nodes/-1/status",
        "nodes/ 1/status",
        "nodes/" + "1" * 5000 + "/status",  # int() would raise on so many digits
        "",
    ],
)
def test_a_node_publishes_nothing_else(topic: str) -> None:
    assert not may_publish(NODE, topic)


@pytest.mark.parametrize("topic_filter", [topics.rpc_send(1), topics.events_ack(1)])
def test_a_node_subscribes_to_its_requests_and_acks(topic_filter: str) -> None:
    assert may_subscribe(NODE, topic_filter)


@pytest.mark.parametrize(
    "topic_filter",
    [
        "#",
        "+/#",
        "$SYS/#",
        "nodes/#",
        "nodes/+/rpc/send",
        "nodes/+/events/ack",
        "nodes/1/#",
        "nodes/1/+",
        "nodes/1/rpc/+",
        "nodes/1/events/#",
        "nodes/01/rpc/send",
        "nodes/2/rpc/send",
        "nodes/2/events/ack",
        topics.status(1),
        topics.events(1),
        topics.msg(1, "position"),
        topics.plan_running(1),
        "nodes/1/rpc/send/",
        "nodes/1/rpc/send/#",
        "",
    ],
)
def test_a_node_subscribes_to_nothing_else(topic_filter: str) -> None:
    assert not may_subscribe(NODE, topic_filter)


@pytest.mark.parametrize("topic", ["#", "$SYS/#", "nodes/+/status", topics.rpc_send(7), "x/y"])
def test_the_control_plane_may_do_everything(topic: str) -> None:
    assert may_publish(CONTROL_PLANE_USERNAME, topic)
    assert may_subscribe(CONTROL_PLANE_USERNAME, topic)


@pytest.mark.parametrize(
    "username",
    [
        "",
        "anonymous",
        "node-",
        "node-01",
        "node-x",
        "Node-1",
        "node-1 ",
        "node-" + "1" * 5000,
        "gosd-control-plane2",
    ],
)
def test_anyone_else_gets_nothing(username: str) -> None:
    for topic in (topics.status(1), topics.rpc_send(1), topics.events_ack(1), "#"):
        assert not may_publish(username, topic)
        assert not may_subscribe(username, topic)
