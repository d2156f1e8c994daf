"""Route what the broker delivers to node state, RPC and dispatch.

Every payload is decoded strictly (``shared.codec``); anything malformed is logged
and dropped (an empty payload on a retained topic is no message but the topic being
cleared), so no agent, broken or hostile, can crash the control plane or change
state with a message that does not follow the protocol.
"""

from __future__ import annotations

import logging
import time

import msgspec

from control_plane.messaging.dispatcher import Dispatcher
from control_plane.messaging.node_state import NodeStates
from control_plane.messaging.rpc import RpcClient
from shared import topics
from shared.codec import ProtocolError, decode, decode_object
from shared.messages import TELEMETRY, JobEvent, Network, NodeStatus, RpcResponse
from shared.topics import NodeTopic

log = logging.getLogger(__name__)

WARN_EVERY_S = 10.0

CLEARABLE = frozenset({NodeTopic.STATUS, NodeTopic.NETWORK, NodeTopic.MSG})
"""The retained topics (DESIGN §4): on these an empty payload means "cleared", not
malformed. Anywhere else an empty payload breaks the protocol."""


class Router:
    def __init__(self, states: NodeStates, rpc: RpcClient, dispatcher: Dispatcher) -> None:
        self._states = states
        self._rpc = rpc
        self._dispatcher = dispatcher
        self.dropped = 0
        """Messages dropped as malformed since start (for tests and metrics)."""
        self._warned: dict[int, tuple[float, int]] = {}

    async def on_message(self, topic: str, payload: bytes) -> None:
        parsed = topics.parse(topic)
        if parsed is None:
            return
        node_id, kind, name = parsed
        if not payload and kind in CLEARABLE:
            # An empty retained message clears the topic (MQTT 3.1.1 §3.3.1.3): the
            # control plane does so when it removes a node, and gets its own clears back.
            self._states.cleared(node_id, kind, name)
            return
        try:
            if kind is NodeTopic.STATUS:
                if self._states.on_status(node_id, decode(payload, NodeStatus)):
                    self._dispatcher.node_status_changed(node_id)
            elif kind is NodeTopic.MSG and name is not None:
                shape = TELEMETRY.get(name)
                data = (
                    msgspec.to_builtins(decode(payload, shape))
                    if shape is not None
                    else decode_object(payload)
                )
                self._states.on_telemetry(node_id, name, data)
            elif kind is NodeTopic.NETWORK:
                self._states.on_network(node_id, decode(payload, Network))
            elif kind is NodeTopic.RPC_RECV:
                self._states.seen(node_id)
                self._rpc.on_response(node_id, decode(payload, RpcResponse))
            elif kind is NodeTopic.EVENTS:
                self._states.seen(node_id)
                self._dispatcher.event_received(node_id, decode(payload, JobEvent))
        except ProtocolError as exc:
            self.dropped += 1
            self._warn(node_id, topic, exc)

    def _warn(self, node_id: int, topic: str, exc: ProtocolError) -> None:
        """One warning per node per ``WARN_EVERY_S``: a broken agent must not flood the log."""
        now = time.monotonic()
        last, skipped = self._warned.get(node_id, (-WARN_EVERY_S, 0))
        if now - last < WARN_EVERY_S:
            self._warned[node_id] = (last, skipped + 1)
            return
        more = f" ({skipped} more from this node since the last warning)" if skipped else ""
        log.warning("dropped a malformed message on %s: %s%s", topic, exc, more)
        self._warned[node_id] = (now, 0)
