"""A chunked HTTP/1.1 PUT whose answer is read while the body is still being sent.

An ingest refuses a stream by answering at once (401 stale token, 403/404 not this
node's point, 409 replaced) and closing, without reading the body. httpx (httpcore)
reads the answer only after the body is sent, and the body of a live stream never ends:
the server's close then resets the connection, and the reset destroys the answer before
it is read (measured: every early 401 came out of httpx as a ``ReadError``). So the
stream's PUT is this small client: one task sends the chunks, another waits for the
status line from the first byte on; whichever ends first decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0
WRITE_TIMEOUT_S = 10.0
"""A chunk the server does not take within this long breaks the connection."""
ANSWER_TIMEOUT_S = 10.0
"""How long to wait for the answer once the body has ended."""
MAX_HEAD_BYTES = 16_384


class PutError(Exception):
    """The PUT broke before the server answered (network, timeout, a malformed answer)."""


async def chunked_put(url: str, headers: Mapping[str, str], body: AsyncIterator[bytes]) -> int:
    """PUT ``body`` to ``url`` chunk by chunk; the server's status (early or at the end)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PutError(f"not an http(s) URL: {url!r}")
    tls = ssl.create_default_context() if parts.scheme == "https" else None
    port = parts.port or (443 if tls else 80)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(
                parts.hostname, port, ssl=tls, limit=MAX_HEAD_BYTES
            )
    except (OSError, TimeoutError) as exc:
        raise PutError(f"cannot connect to {parts.hostname}:{port}: {exc}") from exc
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a frame goes out now
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        head = f"PUT {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nTransfer-Encoding: chunked\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(head.encode("latin-1") + b"\r\n")
        outcome: int | BaseException
        # The task group's body only decides; raising in it would come out wrapped in an
        # ExceptionGroup (Python 3.11).
        async with asyncio.TaskGroup() as tg:
            answer = tg.create_task(_caught(_status(reader)))
            sender = tg.create_task(_caught(_send(writer, body)))
            await asyncio.wait({answer, sender}, return_when=asyncio.FIRST_COMPLETED)
            if answer.done():
                sender.cancel()  # answered early: the rest of the body is not wanted
                outcome = answer.result()
            elif isinstance(sent := sender.result(), BaseException):
                # Broken while sending: an answer may still have arrived just before.
                await asyncio.wait({answer}, timeout=1.0)
                if answer.done() and isinstance(answer.result(), int):
                    outcome = answer.result()
                else:
                    answer.cancel()
                    outcome = PutError(f"sending the stream: {sent or type(sent).__name__}")
            else:
                await asyncio.wait({answer}, timeout=ANSWER_TIMEOUT_S)
                if answer.done():
                    outcome = answer.result()
                else:
                    answer.cancel()
                    outcome = PutError("no answer after the end of the stream")
        return _result(outcome)
    finally:
        # Abort, not close: closing waits until the unsent bytes are sent, for ever when
        # the server stopped reading (a stalled ingest); nothing unsent matters any more.
        writer.transport.abort()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _caught(work: Awaitable[T]) -> T | Exception:
    """``work``'s result, or the exception it raised (so the task group is not aborted)."""
    try:
        return await work
    except (OSError, TimeoutError, ValueError) as exc:
        return exc


def _result(outcome: int | BaseException | None) -> int:
    if isinstance(outcome, int):
        return outcome
    if isinstance(outcome, PutError):
        raise outcome
    raise PutError(f"reading the answer: {outcome or type(outcome).__name__}") from outcome


async def _send(writer: asyncio.StreamWriter, body: AsyncIterator[bytes]) -> None:
    async for chunk in body:
        if not chunk:
            continue
        writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        async with asyncio.timeout(WRITE_TIMEOUT_S):
            await writer.drain()
    writer.write(b"0\r\n\r\n")
    async with asyncio.timeout(WRITE_TIMEOUT_S):
        await writer.drain()


async def _status(reader: asyncio.StreamReader) -> int:
    """The status of the answer (its headers are read and ignored)."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise ConnectionError("the connection closed without an answer") from exc
        except asyncio.LimitOverrunError as exc:
            raise ValueError("the answer's head is too large") from exc
        line = head.split(b"\r\n", 1)[0].split(b" ")
        if len(line) < 2 or not line[0].startswith(b"HTTP/1.") or not line[1].isdigit():
            raise ValueError(f"not an HTTP answer: {head[:60]!r}")
        status = int(line[1])
        if status >= 200 or status == 101:
            return status
        # 1xx (100 Continue...): informational, the answer follows.
