"""A stand-in for the control plane's FLV ingest and token endpoint, for the agent's
live video tests (as ``agent_harness.BlobServer`` stands in for the blob route).

It checks what the relay checks at the door (the node's ``client_credentials`` for a
token, the bearer token on the PUT) and records each PUT's body as it arrives (chunked
transfer encoding decoded). A test can make it refuse the current token (``revoke``),
answer a status at once (``answer``) or cut a connection after some bytes (``cut_after``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from shared import codec

_PUT = re.compile(r"^/gosd/api/v2/nodes/(\d+)/points/(\d+)/live\.flv$")


@dataclass
class Upload:
    """One PUT as received."""

    node_id: int
    point_id: int
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False
    """The terminal chunk arrived (the agent ended the body cleanly)."""
    cut: bool = False
    """The server cut the connection."""
    cut_wanted: bool = False


class IngestServer:
    def __init__(self, client_id: str, client_secret: str) -> None:
        self._client_id = client_id
        self._secret = client_secret
        self.token = secrets.token_hex(32)
        self.token_requests = 0
        self.refused = 0
        """PUTs answered 401."""
        self.uploads: list[Upload] = []
        self.answer: int | None = None
        """Answer every PUT with this status at once (None: accept)."""
        self.stalled = asyncio.Event()
        """Set: the PUTs in progress stop reading (a congested network)."""
        self.cut_after: int | None = None
        """Cut the next accepted PUT after this many body bytes."""
        self._server: asyncio.Server | None = None
        self.url = ""
        self._tasks: set[asyncio.Task[None]] = set()

    def cut_current(self) -> None:
        """Cut the PUTs in progress at their next bytes."""
        for upload in self.uploads:
            upload.cut_wanted = True

    def revoke(self) -> None:
        """The current token stops working (as when it expires)."""
        self.token = secrets.token_hex(32)

    async def __aenter__(self) -> IngestServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/gosd"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ")
            headers = {
                k.strip().lower(): v.strip()
                for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
            }
            if method == "POST" and path == "/gosd/oauth/token":
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                form = parse_qs(body.decode())
                self.token_requests += 1
                ok = (
                    form.get("grant_type") == ["client_credentials"]
                    and form.get("client_id") == [self._client_id]
                    and form.get("client_secret") == [self._secret]
                )
                if not ok:
                    await _reply(writer, 401, b'{"error": "invalid_client"}')
                    continue
                answer = {"access_token": self.token, "token_type": "Bearer", "expires_in": 3600}
                await _reply(writer, 200, codec.encode(answer))
                continue
            match = _PUT.match(path)
            if method != "PUT" or match is None:
                await _reply(writer, 404, b'{"error_message": "not found"}', close=True)
                return
            if headers.get("authorization") != f"Bearer {self.token}":
                self.refused += 1
                await _reply(writer, 401, b'{"error_message": "invalid token"}', close=True)
                await _linger(reader, writer)
                return
            if self.answer is not None:
                await _reply(writer, self.answer, b'{"error_message": "refused"}', close=True)
                await _linger(reader, writer)
                return
            upload = Upload(int(match.group(1)), int(match.group(2)))
            self.uploads.append(upload)
            cut_after, self.cut_after = self.cut_after, None
            assert headers.get("transfer-encoding") == "chunked"
            while True:
                if self.stalled.is_set():
                    await asyncio.Event().wait()  # read nothing more, until cancelled
                size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                data = await reader.readexactly(size + 2)
                if size == 0:
                    upload.ended = True
                    await _reply(writer, 204, b"")
                    break
                upload.body += data[:-2]
                if upload.cut_wanted or (cut_after is not None and len(upload.body) >= cut_after):
                    upload.cut = True
                    return  # the connection is cut (closed in _handle)


async def _reply(
    writer: asyncio.StreamWriter, status: int, body: bytes, *, close: bool = False
) -> None:
    head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
    if close:
        head += "Connection: close\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close as a careful server does after answering early: stop writing, read and drop
    what the client still sends for a moment, so closing does not reset the connection
    (a reset can destroy the answer before the client reads it)."""
    if writer.can_write_eof():
        writer.write_eof()
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(1.0):
            while await reader.read(65536):
                pass
