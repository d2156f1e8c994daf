"""JSON-RPC 2.0 calls to agents over ``nodes/{id}/rpc/send`` (DESIGN §4.1).

A call is retried with back-off under the same request id until answered or out of
time; the agent answers a repeated id from its cache, so a retry never runs twice.
A response counts only when it comes from the node the request went to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from control_plane.errors import NodeUnreachable
from control_plane.messaging.bridge import MqttBridge, NotConnected
from control_plane.messaging.node_state import LiveStatus
from shared import topics
from shared.codec import encode
from shared.messages import RpcRequest, RpcResponse, StatusCode

log = logging.getLogger(__name__)

_FIRST_WAIT_S = 0.5
_MAX_WAIT_S = 4.0


class RpcTimeout(TimeoutError):
    """The node did not answer in time (offline, or the broker dropped the request)."""


class NodeOffline(RpcTimeout):
    """The node is known not to be connected, so the request was not (or no longer) sent."""

    def __init__(self, node_id: int, method: str, status: LiveStatus) -> None:
        self.node_id = node_id
        self.status = status
        if status.since is None:
            why = "has not connected since the control plane started"
        else:
            why = f"is not connected ({status.state} since {status.since:%Y-%m-%d %H:%M:%S %Z})"
        self.why = f"node {node_id} {why}"
        super().__init__(f"{self.why}: it cannot answer {method}")

    def error(self, consequence: str = "") -> NodeUnreachable:
        """The API's 503, saying the node is offline and since when."""
        return NodeUnreachable(
            str(self) + consequence,
            node_id=self.node_id,
            node_state=self.status.state,
            since=self.status.since,
        )


class RpcFailed(Exception):
    """The agent answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message


class RpcClient:
    def __init__(self, bridge: MqttBridge, presence: Callable[[int], LiveStatus]) -> None:
        self._bridge = bridge
        self._presence = presence
        """The node's live status; a call goes out only while it says ``online``."""
        self._pending: dict[str, tuple[int, asyncio.Future[Any]]] = {}

    async def call(
        self,
        node_id: int,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout_s: float,
        request_id: str | None = None,
    ) -> Any:
        """The result of ``method`` on the node; RpcFailed or RpcTimeout otherwise
        (NodeOffline, at once, when the node is not connected)."""
        request_id = request_id or f"{method}-{secrets.token_hex(8)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (node_id, future)
        payload = encode(RpcRequest(method=method, params=params or {}, id=request_id))
        deadline = time.monotonic() + timeout_s
        wait = _FIRST_WAIT_S
        try:
            while True:
                self._check_online(node_id, method)
                with contextlib.suppress(NotConnected):
                    await self._bridge.publish(topics.rpc_send(node_id), payload, qos=1)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RpcTimeout(f"node {node_id} did not answer {method} in {timeout_s:g} s")
                try:
                    return await asyncio.wait_for(asyncio.shield(future), min(wait, remaining))
                except TimeoutError:
                    wait = min(wait * 2, _MAX_WAIT_S)
                    log.debug("retrying %s %s to node %s", method, request_id, node_id)
        finally:
            del self._pending[request_id]
            future.cancel()

    def _check_online(self, node_id: int, method: str) -> None:
        status = self._presence(node_id)
        if status.state != StatusCode.ONLINE.label:
            raise NodeOffline(node_id, method, status)

    def on_response(self, node_id: int, response: RpcResponse) -> None:
        if response.id is None:
            return
        entry = self._pending.get(response.id)
        if entry is None or entry[0] != node_id:
            log.debug("node %s answered unknown request %s", node_id, response.id)
            return
        future = entry[1]
        if future.done():
            return
        if response.error is not None:
            future.set_exception(RpcFailed(response.error.code, response.error.message))
        else:
            future.set_result(response.result)
