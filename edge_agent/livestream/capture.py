"""Reading one video source and turning it into FLV tags, on a thread of its own.

PyAV (FFmpeg) demuxes the source; H.264 is passed through untouched (a companion
computer has no CPU to spare), anything else is decoded and encoded. One FLV muxer per
capture writes into memory: what it writes before the first frame (the FLV header, the
metadata and the AVC sequence header) is the ``preamble`` every connection to the
ingest starts with; then each frame becomes one FLV tag handed to ``on_tag``.

Timestamps come from the capture clock: the source's own timestamps, rebased so the
first frame is at 0 ms, as long as they keep pace with the monotonic clock within
``RESYNC_MS``; a source without timestamps, or one that jumps (a looped file starting
over, a camera restarting), is stamped with the time each frame was read. Files and
test patterns are read in real time (as they would be captured); live sources as fast as
they come.

Everything here blocks; ``CaptureThread`` runs it and reports to the event loop.
"""

from __future__ import annotations

import fractions
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import av.container
import av.video.stream
from av.video.frame import PictureType

from shared.agent_config import LivestreamSection

log = logging.getLogger(__name__)

MS = fractions.Fraction(1, 1000)
RESYNC_MS = 1000.0
"""Source timestamps that stray this far from the capture clock are re-anchored to it."""
OPEN_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0
"""A source silent this long is broken (its read fails)."""
NETWORK_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "tcp://", "udp://")
TESTSRC_DEFAULT_SIZE = (1280, 720)


class SourceError(Exception):
    """The source cannot be used; ``dead`` when trying again cannot help (no such device,
    no video in it, an encoder FFmpeg does not have)."""

    def __init__(self, message: str, *, dead: bool = False) -> None:
        super().__init__(message)
        self.dead = dead


def masked(source: str) -> str:
    """``source`` without a URL's credentials (for logs and telemetry)."""
    scheme, sep, rest = source.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return source


class _Sink:
    """The FLV muxer's output: bytes collected until taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


class Capture:
    """One source and its FLV muxer. ``open()`` then ``run()`` (both blocking)."""

    def __init__(
        self,
        settings: LivestreamSection,
        on_tag: Callable[[bytes, bool], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._on_tag = on_tag
        self._clock = clock
        self.codec = ""
        """The source's codec (FFmpeg's name)."""
        self.passthrough = False
        self.preamble = b""
        """FLV header, metadata and sequence header: what a connection starts with."""
        self._input: av.container.InputContainer | None = None
        self._output: av.container.OutputContainer | None = None
        self._sink = _Sink()
        self._loop_file = False
        self._paced = False
        """Read in real time (a file, the test pattern): FFmpeg hands them over as fast as
        they are read. A live source is never paced: its packets buffered while opening
        would be held back, and every later frame with them (measured: +170 ms at 720p30
        from the simulator's camera)."""
        self._keyframe_wanted = threading.Event()
        self._t0: float | None = None
        self._shift_ms: float | None = None
        self._last_dts = -1
        self._last_encoded_ms = float("-inf")

    def request_keyframe(self) -> None:
        """The next encoded frame is a keyframe (a new connection starts with one)."""
        self._keyframe_wanted.set()

    # ------------------------------------------------------------------ opening

    def open(self) -> None:
        """Open the source and the muxer; ``SourceError`` if the source cannot be used."""
        try:
            self._input = self._open_input()
            if not self._input.streams.video:
                raise SourceError("the source has no video", dead=True)
            stream = self._input.streams.video[0]
            self.codec = stream.codec_context.name
            encoder = self.settings.encoder
            self.passthrough = self.codec == "h264" and encoder in ("auto", "copy")
            if encoder == "copy" and not self.passthrough:
                raise SourceError(
                    f"encoder 'copy' needs an H.264 source, this one is {self.codec}", dead=True
                )
            self._output = av.open(
                self._sink,
                "w",
                format="flv",
                options={"flvflags": "no_duration_filesize", "flush_packets": "1"},
            )
            if self.passthrough:
                out = self._output.add_stream_from_template(stream)
                out.time_base = MS
            else:
                self._add_encoder(stream)
            self._output.start_encoding()
            self.preamble = self._sink.take()
        except SourceError:
            self.close()
            raise
        except (av.FFmpegError, OSError, ValueError) as exc:
            self.close()
            raise SourceError(f"cannot open {masked(self.settings.source)}: {exc}") from exc

    def _open_input(self) -> av.container.InputContainer:
        s = self.settings
        source = s.source
        # 0.1 s of analysis: the simulator camera's first frame reaches the ingest ~0.5 s
        # after the start instead of ~0.7 s with 0.3 s (measured); size and codec are known
        # from the first keyframe.
        options = {"probesize": "1000000", "analyzeduration": "100000"}
        timeout = (OPEN_TIMEOUT_S, READ_TIMEOUT_S)
        if source == "testsrc":
            self._paced = True
            width, height = (s.width, s.height) if s.width and s.height else TESTSRC_DEFAULT_SIZE
            return av.open(
                f"testsrc2=size={width}x{height}:rate={s.fps:g}", format="lavfi", timeout=timeout
            )
        if source.startswith("/dev/"):
            if not Path(source).exists():
                raise SourceError(f"no such device {source}", dead=True)
            device: dict[str, str] = {}
            if s.width and s.height:
                device["video_size"] = f"{s.width}x{s.height}"
            return av.open(source, format="v4l2", options=device, timeout=timeout)
        if source.startswith(NETWORK_SCHEMES):
            if source.startswith(("rtsp://", "rtsps://")):
                options["rtsp_transport"] = "tcp"
            return av.open(source, options=options, timeout=timeout)
        if not Path(source).is_file():
            raise SourceError(f"no such file {source}", dead=True)
        self._loop_file = self._paced = True
        return av.open(source, timeout=timeout)

    def _add_encoder(self, source: Any) -> None:
        s = self.settings
        assert self._output is not None
        name = "libx264" if s.encoder == "auto" else s.encoder
        try:
            codec = av.Codec(name, "w")
        except (av.FFmpegError, ValueError) as exc:
            raise SourceError(f"FFmpeg has no encoder {name!r}", dead=True) from exc
        options = {"preset": "ultrafast", "tune": "zerolatency"} if name == "libx264" else {}
        rate = max(1, round(s.fps))
        out = self._output.add_stream(codec.name, rate=rate, options=options)
        if not isinstance(out, av.video.stream.VideoStream):
            raise SourceError(f"{name!r} is not a video encoder", dead=True)
        out.width = s.width or source.codec_context.width
        out.height = s.height or source.codec_context.height
        formats = [f.name for f in codec.video_formats or ()]
        out.pix_fmt = "yuv420p" if not formats or "yuv420p" in formats else formats[0]
        ctx = out.codec_context
        ctx.time_base = MS
        ctx.bit_rate = s.bitrate_kbps * 1000
        ctx.gop_size = rate  # a keyframe a second: a viewer never waits long for a picture
        ctx.max_b_frames = 0

    # ------------------------------------------------------------------ reading

    def run(self, stop: threading.Event) -> None:
        """Read until ``stop`` is set; ``SourceError`` when the source breaks or ends."""
        assert self._input is not None
        assert self._output is not None
        stream = self._input.streams.video[0]
        try:
            while not stop.is_set():
                ended = True
                for packet in self._input.demux(stream):
                    if stop.is_set():
                        return
                    if packet.size == 0:
                        continue
                    ended = False
                    if self.passthrough:
                        self._pass(packet)
                    else:
                        for frame in packet.decode():
                            self._encode(frame)
                if not ended and self._loop_file and not stop.is_set():
                    self._input.seek(0)  # a file plays in a loop
                    continue
                raise SourceError(f"the source {masked(self.settings.source)} ended")
        except SourceError:
            raise
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise SourceError(f"reading {masked(self.settings.source)}: {exc}") from exc

    def _timestamp_ms(self, source_s: float | None) -> float:
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        elapsed_ms = (now - self._t0) * 1000.0
        if source_s is None:
            return elapsed_ms
        if (
            self._shift_ms is None
            or abs(source_s * 1000.0 + self._shift_ms - elapsed_ms) > RESYNC_MS
        ):
            self._shift_ms = elapsed_ms - source_s * 1000.0
        stamped = source_s * 1000.0 + self._shift_ms
        if self._paced and stamped > elapsed_ms + 5:  # read faster than captured: wait
            time.sleep((stamped - elapsed_ms) / 1000.0)
        return stamped

    def _next_dts(self, dts_ms: float) -> int:
        dts = max(self._last_dts + 1, round(dts_ms))
        self._last_dts = dts
        return dts

    def _pass(self, packet: av.Packet[Any]) -> None:
        assert self._output is not None
        base = packet.time_base
        dts_src = packet.dts if packet.dts is not None else packet.pts
        source_s = float(dts_src * base) if dts_src is not None and base else None
        dts = self._next_dts(self._timestamp_ms(source_s))
        offset = 0
        if packet.pts is not None and dts_src is not None and base:
            offset = max(0, round(float((packet.pts - dts_src) * base) * 1000))
        packet.dts, packet.pts = dts, dts + offset
        packet.time_base = MS
        packet.stream = self._output.streams.video[0]
        self._output.mux(packet)
        self._on_tag(self._sink.take(), bool(packet.is_keyframe))

    def _encode(self, frame: av.VideoFrame) -> None:
        assert self._output is not None
        out = self._output.streams.video[0]
        source_s = float(frame.time) if frame.time is not None else None
        ts = self._timestamp_ms(source_s)
        if ts - self._last_encoded_ms < 1000.0 / self.settings.fps * 0.9:
            return  # faster than the configured rate: skip
        self._last_encoded_ms = ts
        picture = frame.reformat(out.width, out.height, out.pix_fmt)
        picture.pts = self._next_dts(ts)
        picture.time_base = MS
        if self._keyframe_wanted.is_set():
            self._keyframe_wanted.clear()
            picture.pict_type = PictureType.I
        else:
            picture.pict_type = PictureType.NONE
        for packet in out.encode(picture):
            self._output.mux(packet)
            self._on_tag(self._sink.take(), bool(packet.is_keyframe))

    def close(self) -> None:
        """Release the source and the muxer (nothing is flushed: the stream just stops)."""
        for container in (self._input, self._output):
            if container is not None:
                try:
                    container.close()
                except (av.FFmpegError, OSError, ValueError) as exc:
                    log.debug("closing: %s", exc)
        self._input = self._output = None
