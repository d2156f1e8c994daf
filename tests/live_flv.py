"""A live HTTP-FLV stream for tests, encoded by PyAV as it is served.

Each request gets its own encoder: FFmpeg's ``testsrc2`` pattern (lavfi) through libx264
(``veryfast``/``zerolatency``, one keyframe a second) into the FLV muxer, written to the
response as each packet leaves the muxer, at the real-time rate of the picture. That is
what a relay's viewer receives, so a player that plays this plays a live stream, not a
file it could read ahead of time.

``FlvRoutes`` puts such streams at chosen paths in front of another ASGI app (the control
plane), so a page served by that app plays them from its own origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import av

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

QUEUE_CHUNKS = 64
"""Muxer writes held for a slow client before the encoder waits (about 4 s of video)."""


@dataclass(frozen=True)
class FlvStream:
    """What one request's encoder makes."""

    width: int = 640
    height: int = 360
    rate: int = 15
    """Frames per second, and the pace at which they are sent."""
    seconds: float | None = None
    """End the response after this much video; ``None``: until the client leaves."""


class _ChunkSink(io.RawIOBase):
    """The muxer's output: each write goes to the response's queue, from the encoder's
    thread, waiting while the queue is full (a slow client slows the encoder)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]):
        self._loop = loop
        self._queue = queue
        self.stopped = threading.Event()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        while not self.stopped.is_set():
            put = asyncio.run_coroutine_threadsafe(self._queue.put(chunk), self._loop)
            with contextlib.suppress(TimeoutError):
                put.result(timeout=0.5)
                break
            put.cancel()
        return len(chunk)


def _encode(stream: FlvStream, sink: _ChunkSink) -> None:
    """Encode and mux until ``sink.stopped`` or the stream's length; paced by the clock."""
    source = av.open(
        f"testsrc2=size={stream.width}x{stream.height}:rate={stream.rate}", format="lavfi"
    )
    # A non-seekable sink: the muxer must not go back to write the duration and size.
    out = av.open(sink, mode="w", format="flv", options={"flvflags": "no_duration_filesize"})
    try:
        video = out.add_stream(
            "libx264",
            rate=stream.rate,
            options={"preset": "veryfast", "tune": "zerolatency", "g": str(stream.rate)},
        )
        video.width, video.height, video.pix_fmt = stream.width, stream.height, "yuv420p"
        limit = None if stream.seconds is None else round(stream.seconds * stream.rate)
        started = time.monotonic()
        for index, frame in enumerate(source.decode(video=0)):
            if sink.stopped.is_set() or (limit is not None and index >= limit):
                break
            # Real time: frame N leaves no earlier than N/rate seconds after the first.
            ahead = started + index / stream.rate - time.monotonic()
            if ahead > 0 and sink.stopped.wait(ahead):
                break
            for packet in video.encode(frame):
                out.mux(packet)
        if not sink.stopped.is_set():
            for packet in video.encode(None):
                out.mux(packet)
    finally:
        out.close()
        source.close()


async def serve_flv(stream: FlvStream, send: Send, receive: Receive) -> None:
    """Answer one request with a live FLV until it ends or the client goes away."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_CHUNKS)
    sink = _ChunkSink(loop, queue)

    def encode() -> None:
        try:
            _encode(stream, sink)
        finally:
            if not sink.stopped.is_set():
                asyncio.run_coroutine_threadsafe(queue.put(None), loop)

    async def client_gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"video/x-flv"), (b"cache-control", b"no-store")],
        }
    )

    async def pump() -> None:
        while (data := await queue.get()) is not None:
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    encoder = threading.Thread(target=encode, name="test-flv-encoder", daemon=True)
    encoder.start()
    try:
        # Whichever ends first (the stream, or the client) ends the other.
        async with asyncio.TaskGroup() as tasks:
            sending = tasks.create_task(pump())
            watching = tasks.create_task(client_gone())
            sending.add_done_callback(lambda _: watching.cancel())
            watching.add_done_callback(lambda _: sending.cancel())
    finally:
        sink.stopped.set()
        await asyncio.to_thread(encoder.join)


class FlvRoutes:
    """An ASGI app: ``streams`` at their paths (each request a new encoder), ``app`` for
    everything else (its lifespan included)."""

    def __init__(self, app: ASGIApp, streams: dict[str, FlvStream]) -> None:
        self.app = app
        self.streams = streams
        self.requests: list[str] = []
        """The paths of the stream requests served so far (a reconnect adds one)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stream = self.streams.get(scope["path"]) if scope["type"] == "http" else None
        if stream is None:
            await self.app(scope, receive, send)
            return
        self.requests.append(scope["path"])
        await serve_flv(stream, send, receive)
