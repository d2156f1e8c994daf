"""The agent's JSON-RPC 2.0 server on ``nodes/{id}/rpc/send`` (DESIGN §4.1).

The control plane retries a request until it is answered, so the same request id can
arrive several times. An LRU of recent ids makes execution at-most-once per id: a
duplicate of an answered request gets the cached response again, a duplicate of one
still in progress is dropped (its answer is on the way).

Malformed input is logged (truncated) and dropped; when a request is JSON with a string
``id`` but not a valid request, it is answered ``INVALID_REQUEST`` so the sender stops
retrying. Bytes that are not JSON carry no id to answer to: they are only logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiomqtt
import msgspec

from edge_agent.drivers.base import DriverError
from edge_agent.link import Link, LinkDown
from shared import codec, topics
from shared.errors import RpcErrorCode
from shared.messages import RpcError, RpcRequest, RpcResponse

log = logging.getLogger(__name__)

Handler = Callable[[Mapping[str, Any]], Awaitable[Any]]
"""A method: takes ``params``, answers the ``result``; raises ``RpcFailure`` for errors."""

MAX_CONCURRENT_REQUESTS = 16


class RpcFailure(Exception):
    """An RPC answered with an error: ``code`` (its message is the wire message) and a detail."""

    def __init__(self, code: RpcErrorCode, detail: str = "") -> None:
        super().__init__(detail or code.message)
        self.code = code
        self.detail = detail


def parse_params(params: Mapping[str, Any], kind: type[msgspec.Struct]) -> Any:
    """RPC params as ``kind``, or ``RpcFailure(INVALID_PARAMS)`` saying what is wrong."""
    try:
        return msgspec.convert(dict(params), kind)
    except msgspec.ValidationError as exc:
        raise RpcFailure(RpcErrorCode.INVALID_PARAMS, str(exc)) from None


def error_response(request_id: str | None, code: RpcErrorCode, detail: str = "") -> RpcResponse:
    data = {"detail": detail} if detail else None
    return RpcResponse(id=request_id, error=RpcError(code=code, message=code.message, data=data))


def encode_response(response: RpcResponse) -> bytes:
    """The wire form (``"jsonrpc": "2.0"`` included: it is the struct's tag)."""
    return codec.encode(response)


class RpcServer:
    """Serves ``methods`` to the control plane, executing each request id at most once."""

    def __init__(
        self, link: Link, methods: Mapping[str, Handler], *, cache_size: int = 1024
    ) -> None:
        self._link = link
        self._methods = dict(methods)
        self._cache_size = cache_size
        self._requests = link.subscribe(topics.rpc_send(link.node_id))
        self._seen: OrderedDict[str, RpcResponse | None] = OrderedDict()
        """Request id -> its response, or None while it runs. Oldest first."""
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)

    @property
    def capabilities(self) -> list[str]:
        """The methods served, as advertised in the birth message."""
        return sorted(self._methods)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            while True:
                payload = await self._requests.get()
                request = self._decode(payload)
                if request is None:
                    continue
                if isinstance(request, RpcResponse):
                    tg.create_task(self._send(request))
                    continue
                if request.id is not None:
                    if request.id in self._seen:
                        cached = self._seen[request.id]
                        self._seen.move_to_end(request.id)
                        if cached is None:
                            log.info("duplicate of request %s in progress: dropped", request.id)
                        else:
                            log.info("duplicate of request %s: cached response", request.id)
                            tg.create_task(self._send(cached))
                        continue
                    self._remember(request.id, None)
                await self._slots.acquire()
                tg.create_task(self._serve(request))

    def _decode(self, payload: bytes) -> RpcRequest | RpcResponse | None:
        """The request; or an error response to send for a malformed one; or None."""
        try:
            return codec.decode(payload, RpcRequest)
        except codec.ProtocolError as exc:
            log.warning("malformed RPC request dropped: %s (%r)", str(exc)[:200], payload[:100])
            if len(payload) > codec.MAX_PAYLOAD_BYTES:
                return None
        try:
            raw = msgspec.json.decode(payload)
        except msgspec.DecodeError:
            return None
        request_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(request_id, str) and request_id not in self._seen:
            response = error_response(request_id, RpcErrorCode.INVALID_REQUEST)
            self._remember(request_id, response)
            return response
        return None

    def _remember(self, request_id: str, response: RpcResponse | None) -> None:
        self._seen[request_id] = response
        self._seen.move_to_end(request_id)
        while len(self._seen) > self._cache_size:
            self._seen.popitem(last=False)

    async def _serve(self, request: RpcRequest) -> None:
        try:
            response = await self._call(request)
        finally:
            self._slots.release()
        if request.id is None:
            return  # a notification: no answer
        if request.id in self._seen:
            self._remember(request.id, response)
        await self._send(response)

    async def _call(self, request: RpcRequest) -> RpcResponse:
        method = self._methods.get(request.method)
        if method is None:
            return error_response(request.id, RpcErrorCode.METHOD_NOT_FOUND, request.method[:100])
        try:
            result = await method(request.params)
        except RpcFailure as exc:
            return error_response(request.id, exc.code, exc.detail)
        except DriverError as exc:
            code = exc.code if isinstance(exc.code, RpcErrorCode) else RpcErrorCode.UNSUPPORTED
            return error_response(request.id, code, exc.message)
        except Exception as exc:
            log.exception("RPC %s failed", request.method)
            return error_response(request.id, RpcErrorCode.INTERNAL_ERROR, type(exc).__name__)
        try:
            response = RpcResponse(id=request.id, result={} if result is None else result)
            size = len(encode_response(response))
        except (TypeError, ValueError, msgspec.EncodeError) as exc:
            log.error("RPC %s answered something not JSON: %s", request.method, exc)
            return error_response(request.id, RpcErrorCode.INTERNAL_ERROR, "result is not JSON")
        if size > codec.MAX_PAYLOAD_BYTES:
            log.error("RPC %s answered %d bytes: too large to send", request.method, size)
            return error_response(request.id, RpcErrorCode.INTERNAL_ERROR, "result too large")
        return response

    async def _send(self, response: RpcResponse) -> None:
        try:
            await self._link.publish(topics.rpc_recv(self._link.node_id), encode_response(response))
        except (LinkDown, aiomqtt.MqttError) as exc:
            # The sender retries; the cached response answers the retry.
            log.info("response to %s not sent: %s", response.id, exc)
