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
from typing import Any

from control_plane.messaging.bridge import MqttBridge, NotConnected
from shared import topics
from shared.codec import encode
from shared.messages import RpcRequest, RpcResponse

log = logging.getLogger(__name__)

_FIRST_WAIT_S = 0.5
_MAX_WAIT_S = 4.0


class RpcTimeout(TimeoutError):
    """The node did not answer in time (offline, or the broker dropped the request)."""


class RpcFailed(Exception):
    """The agent answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message


class RpcClient:
    def __init__(self, bridge: MqttBridge) -> None:
        self._bridge = bridge
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
        """The result of ``method`` on the node; RpcFailed or RpcTimeout otherwise."""
        request_id = request_id or f"{method}-{secrets.token_hex(8)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (node_id, future)
        payload = encode(RpcRequest(method=method, params=params or {}, id=request_id))
        deadline = time.monotonic() + timeout_s
        wait = _FIRST_WAIT_S
        try:
            while True:
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
