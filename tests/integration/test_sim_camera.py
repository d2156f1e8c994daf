"""The simulator's cameras as a client sees them: HTTP MPEG-TS decoded by PyAV's own
demuxer and decoder (H.264, size, rate, stamps in capture order, a picture that follows
the vehicle), an encoder that runs only while watched, and hostile requests."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import av
import pytest

from shared import video_stamp
from simulator.camera import CameraSettings
from simulator.fleet import SimFleet
from tests.support import stop_process, until

pytestmark = pytest.mark.integration


@dataclass
class Seen:
    codec: str
    width: int
    height: int
    rate: float
    stamps_us: list[int]
    first_is_key: bool
    lumas: list[bytes]
    """Luma planes of decoded frames (the bottom quarter: ground, no text)."""


def read_camera(url: str, frames: int) -> Seen:
    container = av.open(url, timeout=10)
    try:
        stream = container.streams.video[0]
        seen = Seen(
            stream.codec_context.name,
            stream.codec_context.width,
            stream.codec_context.height,
            float(stream.average_rate or stream.guessed_rate or 0),
            [],
            False,
            [],
        )
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if not seen.stamps_us:
                seen.first_is_key = packet.is_keyframe
            stamp = video_stamp.find_in_annexb(bytes(packet))
            assert stamp is not None, "every frame carries its capture time"
            seen.stamps_us.append(stamp)
            for frame in packet.decode():
                plane = bytes(frame.planes[0])
                rows = frame.planes[0].line_size
                seen.lumas.append(plane[rows * (frame.height * 3 // 4) :])
            if len(seen.stamps_us) >= frames:
                break
        return seen
    finally:
        container.close()


async def test_camera_streams_h264_with_capture_stamps() -> None:
    settings = CameraSettings(width=320, height=180, fps=15, bitrate_kbps=300)
    async with SimFleet(2, base_port=24540, speedup=1.0, cameras=settings) as fleet:
        assert fleet.camera_server is not None
        before = time.time_ns() // 1000
        seen = await asyncio.to_thread(read_camera, fleet.camera_url(1), 20)
        after = time.time_ns() // 1000
        assert (seen.codec, seen.width, seen.height) == ("h264", 320, 180)
        assert seen.rate == pytest.approx(15, rel=0.01)
        assert len(seen.lumas) >= 18, "frames decode"
        assert seen.stamps_us == sorted(seen.stamps_us) and len(set(seen.stamps_us)) == 20
        assert before - 3_000_000 < seen.stamps_us[0] and seen.stamps_us[-1] <= after
        # 20 frames at 15 fps span about 1.3 s of capture time.
        assert 1.0e6 < seen.stamps_us[-1] - seen.stamps_us[0] < 2.5e6
        cameras = fleet.camera_server.cameras
        await until(_stopped(cameras[1]), "the unwatched camera stops encoding")
        assert cameras[0].frames_encoded == 0, "camera 0 was never watched"


def _stopped(camera: object) -> object:
    async def probe() -> bool:
        return not camera.running  # type: ignore[attr-defined]

    return probe


def mean_abs_diff(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


async def test_the_picture_follows_the_vehicle() -> None:
    settings = CameraSettings(width=320, height=180, fps=15, bitrate_kbps=600)
    async with SimFleet(1, base_port=24560, cameras=settings) as fleet:
        still = await asyncio.to_thread(read_camera, fleet.camera_url(0), 8)
        # The same view twice: the ground looks the same (only compression noise).
        assert mean_abs_diff(still.lumas[-1], still.lumas[-2]) < 2
        fleet.vehicles[0].heading_deg = 97.0  # the vehicle turns: the ground slides by
        turned = await asyncio.to_thread(read_camera, fleet.camera_url(0), 4)
        assert mean_abs_diff(still.lumas[-1], turned.lumas[-1]) > 5


async def test_hostile_requests_get_clear_answers_and_nothing_encodes() -> None:
    async with SimFleet(1, base_port=24580, cameras=CameraSettings()) as fleet:
        assert fleet.camera_server is not None
        port = fleet.camera_server.port
        for request, status in [
            (b"GET /cameras/1.ts HTTP/1.1\r\n\r\n", b"404"),
            (b"GET /cameras/../0.ts HTTP/1.1\r\n\r\n", b"404"),
            (b"POST /cameras/0.ts HTTP/1.1\r\n\r\n", b"405"),
            (b"\xff\xfe garbage\r\n\r\n", b"400"),
            (b"GET /cameras/99999999999999999999.ts HTTP/1.1\r\n\r\n", b"404"),
        ]:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            answer = await reader.read()
            writer.close()
            assert answer.split(b" ")[1] == status, (request, answer[:80])
        assert fleet.camera_server.cameras[0].frames_encoded == 0


def test_gosd_sim_prints_camera_urls_that_play() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        camera_port = s.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
    command = [sys.executable, "-m", "gosd", "sim", "--vehicles", "2", "--base-port", str(base)]
    command += ["--cameras", "--camera-port", str(camera_port), "--camera-size", "320x240"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip() for _ in range(4)]
            urls = [line.split(": ", 1)[1] for line in lines if line.startswith("camera ")]
            assert urls == [f"http://127.0.0.1:{camera_port}/cameras/{i}.ts" for i in (0, 1)]
            seen = read_camera(urls[1], 3)
            assert (seen.codec, seen.width, seen.height) == ("h264", 320, 240)
        finally:
            assert stop_process(process) == 0


def test_gosd_sim_refuses_bad_camera_options() -> None:
    for args, message in [
        (["--camera-port", "9999"], "--camera-port needs --cameras"),
        (["--cameras", "--camera-size", "641x360"], "even"),
        (["--cameras", "--camera-size", "big"], "camera"),
        (["--cameras", "--camera-fps", "0"], "fps"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "gosd", "sim", *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
