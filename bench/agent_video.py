"""The edge agent's CPU for live video at 720p30: H.264 passed through vs encoded.

A child process runs the agent's ``LiveStreams`` with one ``always`` stream for a while
and reports its own CPU time over wall time in the steady state (after the first frame
reached the ingest, so opening the source is not counted). The ingest is a sink in this
process that takes the token request and the chunked PUT and counts the bytes.

- passthrough: a 720p30 H.264 file (made here with libx264 from FFmpeg's test pattern,
  3 Mbit/s, a keyframe a second), read in real time in a loop, passed through untouched;
- encoding: ``testsrc`` at 720p30 encoded with libx264 ``ultrafast``/``zerolatency``.

``python -m bench --only video`` (``--quick``: 5 s per case instead of 20).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av

from bench.stats import percentile
from shared import video_stamp

WIDTH, HEIGHT, FPS = 1280, 720, 30


def make_h264_file(path: Path, seconds: int = 10) -> None:
    """A 720p30 H.264 file of FFmpeg's test pattern (the passthrough source)."""
    source = av.open(f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}", format="lavfi")
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.bit_rate = 3_000_000
        stream.codec_context.gop_size = FPS
        stream.codec_context.max_b_frames = 0
        for n, frame in enumerate(source.decode(video=0)):
            if n >= seconds * FPS:
                break
            frame.pts, frame.time_base = n, fractions.Fraction(1, FPS)
            out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode(None))
    source.close()


class Sink:
    """Token endpoint and FLV ingest that discard what they get, except the capture
    stamps: each video tag's stamp against the time the tag arrived (``latencies_ms``)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.latencies_ms: list[float] = []
        self._flv = bytearray()
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Sink:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/gosd"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"POST"):
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    await reader.readexactly(length)
                    body = b'{"access_token": "t", "token_type": "Bearer", "expires_in": 3600}'
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
                    )
                    continue
                self._flv.clear()
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    chunk = await reader.readexactly(size + 2)
                    self.bytes += size
                    self._stamps(chunk[:-2])
                await reader.readexactly(2)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    def _stamps(self, data: bytes) -> None:
        """Walk the FLV tags complete so far; note each stamped frame's latency."""
        now_us = time.time_ns() // 1000
        flv = self._flv
        flv += data
        pos = 13 if flv.startswith(b"FLV") else 0  # header and the first PreviousTagSize
        while len(flv) >= pos + 11:
            size = int.from_bytes(flv[pos + 1 : pos + 4], "big")
            end = pos + 11 + size + 4
            if len(flv) < end:
                break
            if flv[pos] == 9 and size > 5 and flv[pos + 12] == 1:  # video, AVC NAL units
                stamp = video_stamp.find_in_avcc(bytes(flv[pos + 16 : pos + 11 + size]))
                if stamp is not None:
                    self.latencies_ms.append((now_us - stamp) / 1000)
            pos = end
        del flv[:pos]


async def _child(url: str, source: str, encoder: str, seconds: float) -> dict[str, Any]:
    """Runs in the child: one stream for ``seconds`` after its first frame."""
    from edge_agent.livestream import LiveStreams
    from edge_agent.node_token import NodeToken
    from shared.agent_config import LivestreamSection

    settings = LivestreamSection(
        point_id=1,
        source=source,
        mode="always",
        encoder=encoder,
        width=WIDTH if source == "testsrc" else 0,
        height=HEIGHT if source == "testsrc" else 0,
        fps=FPS,
        bitrate_kbps=3000,
    )
    streams = LiveStreams(
        [settings],
        node_id=1,
        control_plane_url=url,
        token=NodeToken(url, 1, "s"),
        record=lambda sample: None,
    )
    stream = streams.streams[1]
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(streams.run())
        deadline = time.monotonic() + 20
        while stream.first_frame_at is None:
            if time.monotonic() > deadline:
                raise SystemExit(f"no frame within 20 s: {stream.health()}")
            await asyncio.sleep(0.05)
        times0, wall0, frames0 = os.times(), time.monotonic(), stream.frames_sent
        await asyncio.sleep(seconds)
        times, wall = os.times(), time.monotonic() - wall0
        user, system = times.user - times0.user, times.system - times0.system
        frames = stream.frames_sent - frames0
        health = stream.health()
        runner.cancel()
    return {
        "cpu_pct": 100 * (user + system) / wall,
        "user_pct": 100 * user / wall,
        "system_pct": 100 * system / wall,
        "fps": frames / wall,
        "passthrough": health.passthrough,
        "codec": health.codec,
        "bitrate_kbps": health.bitrate_kbps,
        "dropped": health.frames_dropped,
    }


async def _case(sink: Sink, source: str, encoder: str, seconds: float) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.agent_video",
        "--child",
        sink.url,
        source,
        encoder,
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"bench agent_video: the child failed ({process.returncode})")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def run(quick: bool = False) -> None:
    seconds = 5.0 if quick else 20.0
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "720p30.mp4"
        await asyncio.to_thread(make_h264_file, clip)
        async with Sink() as sink:
            cases = [
                ("passthrough (720p30 H.264 file)", str(clip), "auto"),
                ("encoding (testsrc 720p30, libx264 ultrafast)", "testsrc", "libx264"),
            ]
            print(f"agent video CPU, {seconds:g} s per case after the first frame:")
            await _latency(sink, seconds)
            for label, source, encoder in cases:
                r = await _case(sink, source, encoder, seconds)
                print(
                    f"  {label}: {r['cpu_pct']:.1f}% of a core (user {r['user_pct']:.1f}%, "
                    f"system {r['system_pct']:.1f}%), {r['fps']:.1f} fps sent, "
                    f"{r['bitrate_kbps']:.0f} kbit/s, passthrough={r['passthrough']}, "
                    f"source codec {r['codec']}, {r['dropped']} frames dropped",
                    flush=True,
                )


async def _latency(sink: Sink, seconds: float) -> None:
    """The simulator's camera (720p30) through the agent to the sink: CPU and the time
    from capture (the SEI stamp) to the tag's arrival."""
    from simulator.camera import CameraSettings
    from simulator.fleet import SimFleet

    camera = CameraSettings(width=WIDTH, height=HEIGHT, fps=FPS, bitrate_kbps=2500)
    async with SimFleet(1, base_port=24990, cameras=camera) as fleet:
        sink.latencies_ms.clear()
        r = await _case(sink, fleet.camera_url(0), "auto", seconds)
    # The first second is left out: a connection starts with the frames since the latest
    # keyframe (up to a second old, by design), then runs live.
    lat = sorted(sink.latencies_ms[FPS:])
    print(
        f"  passthrough (simulator camera 720p30 over HTTP MPEG-TS): {r['cpu_pct']:.1f}% of a "
        f"core (user {r['user_pct']:.1f}%, system {r['system_pct']:.1f}%), "
        f"{r['fps']:.1f} fps sent, {r['dropped']} dropped; capture to ingest "
        f"p50 {percentile(lat, 50):.0f} ms, p99 {percentile(lat, 99):.0f} ms "
        f"({len(lat)} frames)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.agent_video")
    parser.add_argument("--child", nargs=4, metavar=("URL", "SOURCE", "ENCODER", "SECONDS"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.child:
        url, source, encoder, seconds = args.child
        print(json.dumps(asyncio.run(_child(url, source, encoder, float(seconds)))), flush=True)
    else:
        asyncio.run(run(args.quick))


if __name__ == "__main__":
    main()
