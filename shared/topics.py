"""Every MQTT topic of the protocol (DESIGN §4), built here and nowhere else.

Names follow the original system so its existing clients can read them. The parser is
the inverse of the builders: the control plane routes what it receives through it, and a
topic it cannot parse is dropped.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

CONTROL_PLANE_USERNAME = "gosd-control-plane"
"""The broker account of the control plane; it may publish and subscribe everywhere."""

_NODE_USER_PREFIX = "node-"
_MAX_ID_DIGITS = 19
"""Node ids fit a signed 64-bit integer; longer digit strings are no node."""


class NodeTopic(StrEnum):
    """The kinds of topic under ``nodes/{id}/``."""

    STATUS = "status"
    RPC_SEND = "rpc/send"
    RPC_RECV = "rpc/recv"
    MSG = "msg"
    NETWORK = "network"
    EVENTS = "events"
    EVENTS_ACK = "events/ack"


NODE_PUBLISHES: frozenset[NodeTopic] = frozenset(
    {NodeTopic.STATUS, NodeTopic.RPC_RECV, NodeTopic.MSG, NodeTopic.NETWORK, NodeTopic.EVENTS}
)
"""What an agent may publish under its own ``nodes/{id}/``."""

NODE_SUBSCRIBES: frozenset[NodeTopic] = frozenset({NodeTopic.RPC_SEND, NodeTopic.EVENTS_ACK})
"""What an agent may subscribe to under its own ``nodes/{id}/``."""


def node_username(node_id: int) -> str:
    """The MQTT username and OAuth client id of a node."""
    return f"{_NODE_USER_PREFIX}{node_id}"


def node_id_of_username(username: str) -> int | None:
    """The node id a username stands for, or None when it is not a node account."""
    digits = username.removeprefix(_NODE_USER_PREFIX)
    return None if digits == username else _id(digits)


def _id(digits: str) -> int | None:
    """A canonical decimal id (no sign, no leading zero), or None."""
    # The length bound comes first: int() refuses strings of over 4300 digits with a
    # ValueError, which a hostile topic or username must not be able to raise.
    if not 0 < len(digits) <= _MAX_ID_DIGITS or not digits.isdigit():
        return None
    if digits != str(int(digits)):
        return None
    return int(digits)


def status(node_id: int) -> str:
    return f"nodes/{node_id}/status"


def rpc_send(node_id: int) -> str:
    return f"nodes/{node_id}/rpc/send"


def rpc_recv(node_id: int) -> str:
    return f"nodes/{node_id}/rpc/recv"


def msg(node_id: int, name: str) -> str:
    if not is_msg_name(name):
        raise ValueError(f"not a telemetry name: {name!r}")
    return f"nodes/{node_id}/msg/{name}"


def network(node_id: int) -> str:
    return f"nodes/{node_id}/network"


def events(node_id: int) -> str:
    return f"nodes/{node_id}/events"


def events_ack(node_id: int) -> str:
    return f"nodes/{node_id}/events/ack"


def plan_running(plan_id: int) -> str:
    return f"plans/{plan_id}/running"


def node_filter(kind: NodeTopic, node_id: int | None = None) -> str:
    """A subscription filter for one kind of node topic, of one node or (None) of all."""
    node = "+" if node_id is None else str(node_id)
    suffix = "msg/+" if kind is NodeTopic.MSG else kind.value
    return f"nodes/{node}/{suffix}"


CONTROL_PLANE_FILTERS: tuple[str, ...] = tuple(node_filter(kind) for kind in sorted(NODE_PUBLISHES))
"""What the control plane subscribes to: everything agents publish."""


def is_msg_name(name: str) -> bool:
    """Telemetry names are short lowercase words: no levels, no wildcards."""
    return 0 < len(name) <= 64 and all(c.isascii() and (c.isalnum() or c == "_") for c in name)


class ParsedTopic(NamedTuple):
    node_id: int
    kind: NodeTopic
    name: str | None
    """The telemetry name of a ``msg`` topic, else None."""


def parse(topic: str) -> ParsedTopic | None:
    """Split a ``nodes/{id}/...`` topic; None for anything that is not one exactly."""
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != "nodes":
        return None
    node_id = _id(parts[1])
    if node_id is None:
        return None
    rest = parts[2:]
    if len(rest) == 2 and rest[0] == NodeTopic.MSG.value:
        return ParsedTopic(node_id, NodeTopic.MSG, rest[1]) if is_msg_name(rest[1]) else None
    try:
        kind = NodeTopic("/".join(rest))
    except ValueError:
        return None
    return None if kind is NodeTopic.MSG else ParsedTopic(node_id, kind, None)


def parse_plan_running(topic: str) -> int | None:
    """The plan id of a ``plans/{id}/running`` topic, else None."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != "plans" or parts[2] != "running":
        return None
    return _id(parts[1])
