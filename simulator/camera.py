"""Synthetic H.264 cameras for the simulated vehicles, served as HTTP MPEG-TS.

Each vehicle has a camera whose picture is drawn from the vehicle's state, so a frozen
stream is visible at a glance: the horizon moves with the height above ground, the
ground's stripes slide as the heading turns, and the overlay writes the capture time
(UTC, hh:mm:ss.mmm), latitude, longitude, height and heading. Every encoded frame also
carries its capture time in an SEI stamp (``shared.video_stamp``) so the latency from
capture to viewer can be measured end to end.

A camera encodes only while someone watches: the encoder (libx264 ``ultrafast`` +
``zerolatency``, no B-frames, a keyframe a second) starts on a thread when the first client
connects and stops when the last leaves; each new client gets an IDR at once, and its
own MPEG-TS muxer, so its stream starts with the tables and a keyframe. The thread keeps
the encoding off the simulator's event loop, so the physics loop is not delayed.

URL of camera ``i``: ``http://127.0.0.1:{port}/cameras/{i}.ts`` (FFmpeg/PyAV read it as is).
A client that reads too slowly for its bounded queue is disconnected (it may reconnect):
a camera never buffers without bound nor slows its other clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import av
from av.video.frame import PictureType, VideoFrame

from shared import video_stamp
from simulator.camera_font import draw_text

log = logging.getLogger(__name__)

CLIENT_QUEUE_CHUNKS = 512
"""Chunks of MPEG-TS a client may have waiting (about 10 s at the defaults): beyond, it is
disconnected."""
REQUEST_TIMEOUT_S = 5.0
"""How long a client may take to send its request line and headers."""
PX_PER_M = 1.5
"""How far the horizon rises per metre of height."""
PX_PER_DEG = 4
"""How far the ground's stripes slide per degree of heading (360 deg = 1440 px)."""
STRIPE_PX = 40
"""Width of a stripe pair on the ground; divides 1440, so a full turn is seamless."""

_PATH = re.compile(r"^/cameras/(\d{1,6})\.ts$")


class ViewState(NamedTuple):
    """What the camera shows of its vehicle at one instant."""

    lat_deg: float
    lon_deg: float
    height_m: float
    """Metres above the ground."""
    heading_deg: float
    """Degrees from north, clockwise."""


@dataclass(frozen=True)
class CameraSettings:
    """Picture and encoding of a simulated camera."""

    width: int = 640
    """Pixels; even (4:2:0 chroma)."""
    height: int = 360
    """Pixels; even."""
    fps: int = 15
    """Frames per second; also the keyframe interval in frames (one a second)."""
    bitrate_kbps: int = 800
    """Target bitrate, kbit/s."""

    def __post_init__(self) -> None:
        if not (16 <= self.width <= 4096 and 16 <= self.height <= 4096):
            raise ValueError("camera size must be 16..4096 pixels each way")
        if self.width % 2 or self.height % 2:
            raise ValueError("camera width and height must be even")
        if not 1 <= self.fps <= 120:
            raise ValueError("camera fps must be 1..120")
        if not 50 <= self.bitrate_kbps <= 100_000:
            raise ValueError("camera bitrate must be 50..100000 kbit/s")


def render(view: ViewState, capture_s: float, settings: CameraSettings) -> VideoFrame:
    """The picture of ``view`` captured at Unix time ``capture_s`` (pure: no I/O)."""
    w, h = settings.width, settings.height
    frame = VideoFrame(w, h, "yuv420p")
    luma_plane, u_plane, v_plane = frame.planes
    stride = luma_plane.line_size
    horizon = int(h * 0.55 - max(0.0, min(view.height_m, 1000.0)) * PX_PER_M)
    horizon = max(h // 8, min(h - h // 8, horizon)) & ~1
    shift = int((view.heading_deg % 360.0) * PX_PER_DEG) % STRIPE_PX
    pattern = (bytes([96]) * (STRIPE_PX // 2) + bytes([124]) * (STRIPE_PX // 2)) * (
        w // STRIPE_PX + 2
    )
    pad = bytes(stride - w)
    sky_row = bytes([170]) * w + pad
    ground_row = pattern[shift : shift + w] + pad
    luma = bytearray(sky_row * horizon + ground_row * (h - horizon))
    scale = max(1, h // 180)
    line_h = 9 * scale
    utc = time.gmtime(capture_s)
    millis = int(capture_s * 1000) % 1000
    lines = [
        f"{utc.tm_hour:02d}:{utc.tm_min:02d}:{utc.tm_sec:02d}.{millis:03d}",
        f"LAT {view.lat_deg:.6f}",
        f"LON {view.lon_deg:.6f}",
        f"ALT {view.height_m:.1f} M",
        f"HDG {view.heading_deg % 360.0:.1f}",
    ]
    for n, text in enumerate(lines):
        big = 2 if n == 0 else 1
        y = 2 * scale + n * line_h + (line_h if n else 0)
        draw_text(luma, stride, h, 2 * scale, y, text, scale * big)
    luma_plane.update(bytes(luma))
    for plane, sky, ground in ((u_plane, 150, 100), (v_plane, 110, 120)):
        cw, cstride = plane.width, plane.line_size
        cpad = bytes(cstride - cw)
        ch = plane.height
        chorizon = horizon // 2
        plane.update(
            (bytes([sky]) * cw + cpad) * chorizon + (bytes([ground]) * cw + cpad) * (ch - chorizon)
        )
    return frame


class _Sink:
    """Where a client's MPEG-TS muxer writes: hands the bytes to the client's event loop."""

    def __init__(self, client: CameraClient) -> None:
        self._client = client

    def write(self, data: bytes) -> int:
        self._client.deliver(bytes(data))
        return len(data)


@dataclass(eq=False)
class CameraClient:
    """One viewer of a camera: a bounded queue of MPEG-TS chunks, read on the event loop.

    ``None`` in the queue ends the stream (the camera stopped, or the client fell behind).
    """

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[bytes | None] = field(
        default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_CHUNKS)
    )
    overflowed: bool = False
    _muxer: av.container.OutputContainer | None = None
    _stream: av.video.stream.VideoStream | None = None
    _started: bool = False
    """A keyframe was muxed: the client's stream is decodable from here on."""

    def deliver(self, data: bytes) -> None:
        """Called on the encoder's thread."""
        self.loop.call_soon_threadsafe(self._put, data)

    def _put(self, data: bytes | None) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    def end(self) -> None:
        self.loop.call_soon_threadsafe(self._put, None)


class Camera:
    """One vehicle's camera: an encoder thread shared by the camera's clients."""

    def __init__(
        self,
        state: Callable[[], ViewState],
        settings: CameraSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        """Read on the encoder's thread: it must only read attributes (no locking needed
        for float reads in CPython)."""
        self.settings = settings or CameraSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: list[CameraClient] = []
        self._thread: threading.Thread | None = None
        self._force_idr = False
        self.frames_encoded = 0
        """Frames encoded since the camera was made (all runs of the encoder)."""

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def join(self) -> CameraClient:
        """A new client (on the running loop); starts the encoder if it is the first."""
        client = CameraClient(asyncio.get_running_loop())
        with self._lock:
            self._clients.append(client)
            self._force_idr = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._encode, name="sim-camera", daemon=True)
                self._thread.start()
        return client

    def leave(self, client: CameraClient) -> None:
        """Forget a client; the encoder stops after its current frame if none is left."""
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)

    def stop(self) -> None:
        """End every client's stream and wait for the encoder to stop."""
        with self._lock:
            clients, self._clients = self._clients, []
            thread = self._thread
        for client in clients:
            client.end()
        if thread is not None:
            thread.join(5)

    def _open_encoder(self) -> av.video.codeccontext.VideoCodecContext:
        s = self.settings
        ctx = av.CodecContext.create("libx264", "w")
        assert isinstance(ctx, av.video.codeccontext.VideoCodecContext)
        ctx.width, ctx.height = s.width, s.height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = fractions.Fraction(1, s.fps)
        ctx.framerate = fractions.Fraction(s.fps, 1)
        ctx.bit_rate = s.bitrate_kbps * 1000
        ctx.gop_size = s.fps
        ctx.max_b_frames = 0
        ctx.thread_count = 1
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "forced-idr": "1"}
        ctx.open()
        return ctx

    def _encode(self) -> None:
        try:
            self._encode_loop(self._open_encoder())
        except Exception:
            log.exception("camera encoder failed")
            with self._lock:
                clients, self._clients = self._clients, []
                self._thread = None
            for client in clients:
                client.end()

    def _encode_loop(self, ctx: av.video.codeccontext.VideoCodecContext) -> None:
        period_s = 1.0 / self.settings.fps
        start = next_at = time.monotonic()
        last_pts = -1
        live: list[CameraClient] = []
        while True:
            with self._lock:
                clients = list(self._clients)
                force_idr, self._force_idr = self._force_idr, False
                if not clients:
                    self._thread = None
            for gone in [c for c in live if c not in clients]:
                _close_muxer(gone)
            live = clients
            if not clients:
                return
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = time.monotonic()
            next_at = max(next_at + period_s, now)  # late: skip frames, never burst
            pts = max(last_pts + 1, round((now - start) / period_s))
            last_pts = pts
            capture_s = self._clock()
            frame = render(self.state(), capture_s, self.settings)
            frame.pts = pts
            if force_idr:
                frame.pict_type = PictureType.I
            stamp = video_stamp.build_annexb(int(capture_s * 1_000_000))
            for packet in ctx.encode(frame):
                self.frames_encoded += 1
                stamped = av.Packet(stamp + bytes(packet))
                stamped.pts, stamped.dts = packet.pts, packet.dts
                stamped.time_base = packet.time_base
                stamped.is_keyframe = packet.is_keyframe
                for client in clients:
                    self._mux(client, stamped)

    def _mux(self, client: CameraClient, packet: av.Packet[Any]) -> None:
        if client.overflowed:
            return
        if not client._started:
            if not packet.is_keyframe:
                return
            client._started = True
            s = self.settings
            muxer = av.open(_Sink(client), "w", format="mpegts", options={"flush_packets": "1"})
            stream = muxer.add_stream("h264", rate=s.fps)
            stream.width, stream.height = s.width, s.height
            stream.pix_fmt = "yuv420p"
            client._muxer, client._stream = muxer, stream
        assert client._muxer is not None
        assert client._stream is not None
        packet.stream = client._stream
        client._muxer.mux(packet)


def _close_muxer(client: CameraClient) -> None:
    muxer, client._muxer = client._muxer, None
    if muxer is not None:
        with contextlib.suppress(Exception):  # a client gone mid-stream: nothing to save
            muxer.close()


class CameraServer:
    """The cameras over HTTP: ``GET /cameras/{index}.ts`` streams MPEG-TS until the client
    leaves. Listens on ``host`` (127.0.0.1 by default) and ``port`` (0: any free port)."""

    def __init__(self, cameras: list[Camera], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.cameras = cameras
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    def url(self, index: int) -> str:
        """Where camera ``index`` is served."""
        return f"http://{self.host}:{self.port}/cameras/{index}.ts"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for camera in self.cameras:
            await asyncio.to_thread(camera.stop)
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> CameraServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except (
            ConnectionError,
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            head = await reader.readuntil(b"\r\n\r\n")
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            await _reply(writer, 400, "Bad Request")
            return
        method, target = parts[0], parts[1].split("?", 1)[0]
        match = _PATH.match(target)
        if match is None or int(match.group(1)) >= len(self.cameras):
            await _reply(writer, 404, "Not Found")
            return
        if method != "GET":
            await _reply(writer, 405, "Method Not Allowed")
            return
        camera = self.cameras[int(match.group(1))]
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nCache-Control: no-store\r\n"
            b"Connection: close\r\n\r\n"
        )
        client = camera.join()
        try:
            while (chunk := await client.queue.get()) is not None:
                writer.write(chunk)
                await writer.drain()
        finally:
            camera.leave(client)


async def _reply(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    body = f"{status} {reason}\n".encode()
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
