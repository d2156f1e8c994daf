"""Live state of every node, as its agent last reported it over MQTT.

It is memory only and rebuilt from the broker's retained messages (status, network,
telemetry) whenever the control plane (re)connects, so nothing here needs a database.
Web clients follow a node through ``watch`` (server-sent events).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from shared.messages import AgentInfo, Network, NodeStatus, StatusCode
from shared.topics import NodeTopic

WATCH_QUEUE_SIZE = 256
"""Updates a slow web client may fall behind by; older ones are dropped for it."""


class LiveStatus(msgspec.Struct, frozen=True):
    """The ``status`` field of a node in the API."""

    state: str
    """``online``, ``offline``, ``neterror``, or ``unknown`` (never heard of)."""
    since: datetime | None = None
    """When the node entered this state, as the control plane saw it."""
    last_seen: datetime | None = None
    """Last message of any kind from the node."""
    link: Network | None = None
    """Link quality the agent measured (``loss`` %, ``delay`` ms)."""
    agent: AgentInfo | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    """What the agent said of the node in its status (``type``, ``link_id``, ...)."""


UNKNOWN = LiveStatus(state="unknown")


class Telemetry(msgspec.Struct, frozen=True):
    name: str
    data: Any
    received_at: datetime


class Update(msgspec.Struct, frozen=True):
    """One change pushed to watchers: ``kind`` is ``status`` or ``msg``."""

    kind: str
    node_id: int
    data: Any


@dataclass
class _Node:
    status: LiveStatus = UNKNOWN
    last_status: NodeStatus | None = None
    """The status message as the agent sent it (for the read bridge)."""
    telemetry: dict[str, Telemetry] = field(default_factory=dict)
    watchers: set[asyncio.Queue[Update]] = field(default_factory=set)


class NodeStates:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._nodes: dict[int, _Node] = {}

    def status(self, node_id: int) -> LiveStatus:
        node = self._nodes.get(node_id)
        return node.status if node else UNKNOWN

    def is_online(self, node_id: int) -> bool:
        return self.status(node_id).state == StatusCode.ONLINE.label

    def offline_nodes(self, node_ids: list[int]) -> list[int]:
        return [n for n in node_ids if not self.is_online(n)]

    def telemetry(self, node_id: int, name: str) -> Telemetry | None:
        node = self._nodes.get(node_id)
        return node.telemetry.get(name) if node else None

    def all_telemetry(self, node_id: int) -> list[Telemetry]:
        node = self._nodes.get(node_id)
        return sorted(node.telemetry.values(), key=lambda t: t.name) if node else []

    def last_status(self, node_id: int) -> NodeStatus | None:
        node = self._nodes.get(node_id)
        return node.last_status if node else None

    def on_status(self, node_id: int, message: NodeStatus) -> bool:
        """Record a status message; True when the node's state changed."""
        node = self._node(node_id)
        now = self._clock()
        state = message.code.label
        changed = node.status.state != state
        node.last_status = message
        node.status = msgspec.structs.replace(
            node.status,
            state=state,
            since=now if changed else node.status.since,
            last_seen=now,
            agent=message.agent,
            details=message.status,
        )
        self._push(node, Update("status", node_id, node.status))
        return changed

    def on_network(self, node_id: int, message: Network) -> None:
        node = self._node(node_id)
        node.status = msgspec.structs.replace(node.status, link=message, last_seen=self._clock())
        self._push(node, Update("status", node_id, node.status))

    def on_telemetry(self, node_id: int, name: str, data: Any) -> None:
        node = self._node(node_id)
        now = self._clock()
        sample = Telemetry(name, data, now)
        node.telemetry[name] = sample
        node.status = msgspec.structs.replace(node.status, last_seen=now)
        self._push(node, Update("msg", node_id, sample))

    def cleared(self, node_id: int, kind: NodeTopic, name: str | None) -> None:
        """A retained topic of the node was cleared: drop what it held.

        A cleared status leaves the state as it was (only removing a node clears it,
        and ``forget`` drops the whole node). Nothing is recorded for a node unknown
        here: the clears of a removed node come back after ``forget``.
        """
        node = self._nodes.get(node_id)
        if node is None:
            return
        if kind is NodeTopic.NETWORK and node.status.link is not None:
            node.status = msgspec.structs.replace(node.status, link=None)
            self._push(node, Update("status", node_id, node.status))
        elif kind is NodeTopic.MSG and name is not None:
            node.telemetry.pop(name, None)

    def seen(self, node_id: int) -> None:
        node = self._node(node_id)
        node.status = msgspec.structs.replace(node.status, last_seen=self._clock())

    def forget(self, node_id: int) -> None:
        """Drop a removed node's state (its watchers get no more updates)."""
        self._nodes.pop(node_id, None)

    @contextlib.contextmanager
    def watch(self, node_id: int) -> Iterator[asyncio.Queue[Update]]:
        """A queue of the node's updates for as long as the context lasts."""
        queue: asyncio.Queue[Update] = asyncio.Queue(WATCH_QUEUE_SIZE)
        node = self._node(node_id)
        node.watchers.add(queue)
        try:
            yield queue
        finally:
            node.watchers.discard(queue)

    def _node(self, node_id: int) -> _Node:
        node = self._nodes.get(node_id)
        if node is None:
            node = self._nodes[node_id] = _Node()
        return node

    @staticmethod
    def _push(node: _Node, update: Update) -> None:
        for queue in node.watchers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(update)
