"""The agent's live video, in process, against a stand-in ingest (``ingest_server``):
what reaches the ingest decodes with PyAV's own FLV demuxer and H.264 decoder, the
simulator camera's stamps survive (no re-encode), other sources are encoded, and the
stream comes back after a cut connection or a refused token."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import av
import pytest

from edge_agent.drivers.base import TelemetrySample
from edge_agent.livestream import LiveStreams
from edge_agent.livestream.stream import LiveStream
from edge_agent.node_token import NodeToken
from edge_agent.rpc import RpcFailure
from shared import topics, video_stamp
from shared.agent_config import LivestreamSection
from shared.messages import Livestream, LivestreamHealth
from simulator.camera import CameraSettings
from simulator.fleet import SimFleet
from tests.integration.ingest_server import IngestServer
from tests.support import until

pytestmark = pytest.mark.integration

NODE = 7
SECRET = "node-secret-7"


@dataclass
class Decoded:
    codec: str
    width: int
    height: int
    frames: int
    stamps_us: list[int]
    first_is_key: bool
    times_ms: list[float]
    """FLV timestamps (ms) of the frames with a stamp, in the same order as ``stamps_us``."""


def decode_flv(body: bytes) -> Decoded:
    container = av.open(io.BytesIO(body), format="flv")
    try:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        result = Decoded(ctx.name, ctx.width, ctx.height, 0, [], False, [])
        first = True
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if first:
                result.first_is_key, first = bool(packet.is_keyframe), False
            stamp = video_stamp.find_in_avcc(bytes(packet))
            if stamp is not None and packet.pts is not None:
                result.stamps_us.append(stamp)
                result.times_ms.append(float(packet.pts * packet.time_base) * 1000)
            with_frames = packet.decode()
            result.frames += len(with_frames)
        return result
    finally:
        container.close()


class Recorder:
    """Where the streams' telemetry goes (as ``Telemetry.record`` would take it)."""

    def __init__(self) -> None:
        self.samples: list[Livestream] = []

    def __call__(self, sample: TelemetrySample) -> None:
        assert sample.name == "livestream"
        assert isinstance(sample.value, Livestream)
        self.samples.append(sample.value)

    def latest(self, point_id: int) -> LivestreamHealth | None:
        for sample in reversed(self.samples):
            for health in sample.streams:
                if health.point_id == point_id:
                    return health
        return None


@pytest.fixture
async def ingest() -> AsyncIterator[IngestServer]:
    async with IngestServer(topics.node_username(NODE), SECRET) as server:
        yield server


class Running:
    """``LiveStreams`` running in the test's loop, as the supervisor runs them."""

    def __init__(self, ingest: IngestServer, *settings: LivestreamSection) -> None:
        self.record = Recorder()
        self._url = ingest.url
        self.streams = self._streams(settings)
        self._stack = contextlib.AsyncExitStack()
        self._group: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def _streams(self, settings: Sequence[LivestreamSection]) -> LiveStreams:
        return LiveStreams(
            settings,
            node_id=NODE,
            control_plane_url=self._url,
            token=NodeToken(self._url, NODE, SECRET),
            record=self.record,
        )

    def add(self, settings: LivestreamSection) -> LiveStream:
        """Run one more stream (one whose source the test makes once running)."""
        assert self._group is not None
        more = self._streams([settings])
        self._tasks.append(self._group.create_task(more.run()))
        return more.streams[settings.point_id]

    async def __aenter__(self) -> Running:
        self._group = await self._stack.enter_async_context(asyncio.TaskGroup())
        self._tasks.append(self._group.create_task(self.streams.run()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await self._stack.aclose()


def frames_in(ingest: IngestServer, n: int, upload: int = 0) -> object:
    async def probe() -> bool:
        if len(ingest.uploads) <= upload:
            return False
        body = bytes(ingest.uploads[upload].body)
        return len(body) > 2000 and decode_flv(body).frames >= n

    return probe


async def test_testsrc_is_encoded_and_arrives_as_decodable_flv(ingest: IngestServer) -> None:
    settings = LivestreamSection(
        point_id=3, source="testsrc", mode="always", width=320, height=240, fps=15
    )
    async with Running(ingest, settings) as running:
        await until(frames_in(ingest, 15), "15 frames of testsrc reach the ingest", 15)
        health = running.streams.streams[3].health()
        # lavfi hands decoded pictures over (FFmpeg's wrapped_avframe): they are encoded.
        assert (health.state, health.codec, health.passthrough) == (
            "live",
            "wrapped_avframe",
            False,
        )
    upload = ingest.uploads[0]
    assert upload.node_id == NODE and upload.point_id == 3
    decoded = decode_flv(bytes(upload.body))
    assert (decoded.codec, decoded.width, decoded.height) == ("h264", 320, 240)
    assert decoded.first_is_key, "a connection starts at a keyframe"


async def test_simulator_camera_passes_through_with_its_stamps(ingest: IngestServer) -> None:
    camera = CameraSettings(width=320, height=180, fps=15, bitrate_kbps=300)
    async with SimFleet(1, base_port=25540, cameras=camera) as fleet:
        settings = LivestreamSection(point_id=5, source=fleet.camera_url(0), mode="on_demand")
        async with Running(ingest, settings) as running:
            stream = running.streams.streams[5]

            async def reported() -> LivestreamHealth | None:
                return running.record.latest(5)

            first = await until(reported, "the stream's first health report", 10)
            assert first.state == "off" and not first.requested
            assert stream.state == "off" and not ingest.uploads, "on demand: nothing yet"
            asked_at = time.monotonic()
            await running.streams.start({"point_id": 5})
            await until(frames_in(ingest, 20), "20 camera frames reach the ingest", 15)
            assert stream.first_frame_at is not None
            startup_s = stream.first_frame_at - asked_at
            assert startup_s < 2.0, f"first frame {startup_s:.2f} s after livestream_start"
            health = stream.health()
            assert (health.codec, health.passthrough, health.requested) == ("h264", True, True)
            await running.streams.stop({"point_id": 5})

            async def ended() -> bool:
                return ingest.uploads[0].ended and stream.state == "off"

            await until(ended, "a stop ends the PUT cleanly and the stream is off")
    decoded = decode_flv(bytes(ingest.uploads[0].body))
    assert (decoded.codec, decoded.width, decoded.height) == ("h264", 320, 180)
    # Passed through: every frame still carries the camera's capture time, in order.
    assert len(decoded.stamps_us) >= 20
    assert decoded.stamps_us == sorted(decoded.stamps_us)
    now_us = time.time_ns() // 1000
    assert now_us - 30_000_000 < decoded.stamps_us[0] < now_us
    # The FLV's timestamps are the capture clock's: they advance as the capture times do.
    stamps_ms = [(s - decoded.stamps_us[0]) / 1000 for s in decoded.stamps_us]
    times_ms = [t - decoded.times_ms[0] for t in decoded.times_ms]
    drift = [abs(t - s) for t, s in zip(times_ms, stamps_ms, strict=True)]
    assert max(drift) < 50, f"FLV time strays {max(drift):.0f} ms from the capture time"


async def test_a_cut_connection_and_a_refused_token_are_recovered(ingest: IngestServer) -> None:
    settings = LivestreamSection(
        point_id=4, source="testsrc", mode="always", width=160, height=120, fps=15
    )
    ingest.cut_after = 20_000
    async with Running(ingest, settings) as running:
        await until(frames_in(ingest, 5, upload=1), "a second PUT after the cut", 20)
        assert ingest.uploads[0].cut
        assert decode_flv(bytes(ingest.uploads[1].body)).first_is_key
        requests = ingest.token_requests
        ingest.revoke()
        ingest.cut_current()

        async def third() -> bool:
            return len(ingest.uploads) >= 3 and len(ingest.uploads[2].body) > 5000

        await until(third, "a PUT with a new token after a 401", 20)
        assert ingest.refused == 1 and ingest.token_requests == requests + 1
        assert running.record.latest(4) is not None


async def test_dead_sources_fail_and_unknown_points_are_rpc_errors(
    ingest: IngestServer, tmp_path: object
) -> None:
    missing = LivestreamSection(point_id=8, source="/dev/video99", mode="always")
    no_encoder = LivestreamSection(point_id=9, source="testsrc", mode="always", encoder="h264_nope")
    async with Running(ingest, missing, no_encoder) as running:

        async def failed() -> bool:
            a, b = running.record.latest(8), running.record.latest(9)
            return bool(a and b and a.state == "failed" and b.state == "failed")

        await until(failed, "both streams are reported failed")
        assert "no such device /dev/video99" in (running.record.latest(8) or missing).last_error  # type: ignore[union-attr]
        assert "h264_nope" in running.record.latest(9).last_error  # type: ignore[union-attr]
        with pytest.raises(RpcFailure, match="point 77"):
            await running.streams.start({"point_id": 77})
        with pytest.raises(RpcFailure):
            await running.streams.start({"point_id": "x"})
    assert not ingest.uploads


async def test_a_401_at_the_door_gets_a_new_token(ingest: IngestServer) -> None:
    settings = LivestreamSection(
        point_id=6, source="testsrc", mode="on_demand", width=160, height=120, fps=15
    )
    async with Running(ingest, settings) as running:
        token = running.streams.streams[6]._token
        import httpx

        async with httpx.AsyncClient() as http:
            await token.get(http)  # the agent holds a token...
        ingest.revoke()  # ...that the ingest no longer takes
        await running.streams.start({"point_id": 6})
        await until(frames_in(ingest, 5), "frames flow with a new token", 15)
        assert ingest.refused == 1 and ingest.token_requests == 2


async def test_refusals_of_the_point_are_reported(ingest: IngestServer) -> None:
    settings = LivestreamSection(
        point_id=2, source="testsrc", mode="always", width=160, height=120, fps=15
    )
    ingest.answer = 404
    async with Running(ingest, settings) as running:

        async def failed() -> LivestreamHealth | None:
            health = running.record.latest(2)
            return health if health is not None and health.state == "failed" else None

        health = await until(failed, "a point the ingest does not know fails")
        assert "HTTP 404" in health.last_error and "point 2" in health.last_error
        ingest.answer = 409
        await running.streams.start({"point_id": 2})

        async def replaced() -> LivestreamHealth | None:
            health = running.record.latest(2)
            return health if health is not None and "409" in health.last_error else None

        health = await until(replaced, "a replaced publisher is reported, and waits")
        assert health.state == "retrying" and "replaced" in health.last_error


async def test_a_source_that_dies_is_retried_then_reported_failed(ingest: IngestServer) -> None:
    camera = CameraSettings(width=160, height=120, fps=15, bitrate_kbps=100)
    async with Running(ingest) as running:
        async with SimFleet(1, base_port=25560, cameras=camera) as fleet:
            settings = LivestreamSection(point_id=1, source=fleet.camera_url(0), mode="always")
            stream = running.add(settings)
            await until(frames_in(ingest, 5), "the camera's frames reach the ingest", 15)
            assert stream.source_errors == 0
        # The simulator, and its camera, are gone.

        async def gave_up() -> LivestreamHealth | None:
            health = running.record.latest(1)
            return health if health is not None and health.state == "failed" else None

        health = await until(gave_up, "the dead camera is reported failed", 20)
    # It broke once while live, then could not be opened 3 times in a row.
    assert health.source_errors == 4 and "gave up" in health.last_error
    assert any(s.streams[0].state == "retrying" for s in running.record.samples if s.streams)


async def test_a_stalled_ingest_costs_frames_not_the_capture(ingest: IngestServer) -> None:
    settings = LivestreamSection(
        point_id=2,
        source="testsrc",
        mode="always",
        width=640,
        height=360,
        fps=30,
        bitrate_kbps=20_000,
    )
    async with Running(ingest, settings) as running:
        stream = running.streams.streams[2]
        await until(frames_in(ingest, 10), "frames reach the ingest", 15)
        ingest.stalled.set()

        async def dropping() -> bool:
            return stream.health().frames_dropped > 0

        await until(dropping, "frames are dropped while the ingest reads nothing", 30)
        ingest.stalled.clear()
        # The stalled PUT times out and a new one starts from a keyframe.
        await until(frames_in(ingest, 5, upload=1), "a new PUT after the stall", 30)
        assert decode_flv(bytes(ingest.uploads[1].body)).first_is_key
