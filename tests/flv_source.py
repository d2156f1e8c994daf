"""A live FLV publisher made with PyAV, for the relay's tests and bench.

libx264 (``ultrafast``/``zerolatency``) encodes FFmpeg's ``testsrc2`` pattern and FFmpeg's
own FLV muxer writes the stream, flushed after every packet, as an agent would push it.
"""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import AsyncIterator

import av
import av.video.frame


class _Sink(io.RawIOBase):
    def __init__(self) -> None:
        self.pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.pending += data
        return len(data)


class FlvEncoder:
    """``next_frame()`` encodes one more frame and answers the FLV bytes it produced."""

    def __init__(
        self,
        width: int = 320,
        height: int = 240,
        rate: int = 15,
        gop: int = 15,
        bitrate: int | None = None,
    ) -> None:
        self.width, self.height, self.rate = width, height, rate
        self._source = av.open(f"testsrc2=size={width}x{height}:rate={rate}", format="lavfi")
        self._frames = self._source.decode(video=0)
        self._sink = _Sink()
        self._out = av.open(
            self._sink,
            "w",
            format="flv",
            options={"flvflags": "no_duration_filesize", "flush_packets": "1"},
        )
        stream = self._out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(gop)}
        if bitrate:
            stream.bit_rate = bitrate
        stream.options = options
        self._stream = stream
        self.frames = 0

    def next_frame(self) -> bytes:
        frame = next(self._frames)
        # The lavfi decoder marks every frame I: the encoder would obey and make each
        # one a key frame.
        frame.pict_type = av.video.frame.PictureType.NONE
        for packet in self._stream.encode(frame):
            self._out.mux(packet)
        self.frames += 1
        return self._take()

    def close(self) -> bytes:
        for packet in self._stream.encode():
            self._out.mux(packet)
        self._out.close()
        self._source.close()
        return self._take()

    def _take(self) -> bytes:
        data = bytes(self._sink.pending)
        self._sink.pending.clear()
        return data


async def paced_body(
    encoder: FlvEncoder, frames: int | None, *, realtime: bool = True
) -> AsyncIterator[bytes]:
    """The encoder's output as a chunked request body, a frame per ``1/rate`` seconds
    (pacing a live source, not waiting for anything); ``frames`` None: no end."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in itertools.count() if frames is None else range(frames):
        chunk = encoder.next_frame()
        if chunk:
            yield chunk
        if realtime:
            await asyncio.sleep(max(0.0, start + (i + 1) / encoder.rate - loop.time()))
    tail = encoder.close()
    if tail:
        yield tail
