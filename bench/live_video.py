"""Live video end to end, as a user of ``gosd demo`` gets it.

``gosd demo`` runs as it does for a newcomer: the simulator's camera (640x360, 15 fps,
H.264 stamped with its capture time), drone 1's agent passing it through to the
control plane's relay, and the player URL it prints. This bench is the viewer (an
HTTP-FLV reader parsing tags, on the same machine, so capture and viewer share a clock).

Printed:
- on-demand start: viewer's GET -> first frame, when nobody was watching (the control
  plane asks the agent to start; the agent opens the camera; the camera starts at a
  key frame), p50/p95;
- a new viewer of a running stream: GET -> first frame (the relay's GOP cache), p50/p95;
- capture -> viewer latency (the frame's SEI capture time -> its arrival), p50/p99, and
  its drift: the median of the last minute minus the median of the first (``minutes``,
  30 for the issue's figure: ``python -m bench --only live_video --live-minutes 30``).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from bench.stats import percentile
from shared.flv import FlvParser, FlvTag
from shared.video_stamp import find_in_avcc
from tests.conftest import password_form
from tests.e2e.processes import gosd_env, player_url, running
from tests.support import until

LINGER_S = 1.0
"""The demo's ``GOSD_LIVE_LINGER_S`` here, so a cold start can be measured again soon."""
SETTLE_S = 2.0
"""After the agent reports a stream off, how long the bench waits before a cold start."""


@contextmanager
def demo() -> Iterator[tuple[str, str]]:
    """``gosd demo`` on free ports: (base URL, the printed viewer URL with its token)."""
    printed: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="gosd-bench-video-") as data,
        running(
            "demo",
            "--port",
            "0",
            env=gosd_env(Path(data), GOSD_LIVE_LINGER_S=str(LINGER_S)),
            output=printed,
        ) as (base, _process),
    ):
        src = parse_qs(urlsplit(player_url(printed)).query)["src"][0]
        yield base, base.removesuffix("/gosd") + src


async def _headers(http: httpx.AsyncClient) -> dict[str, str]:
    r = await http.post("/oauth/token", data=password_form())
    r.raise_for_status()
    return {"Authorization": "Bearer " + r.json()["access_token"]}


async def _stream_state(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    r = await http.get("/api/v2/nodes/1/msg/livestream", headers=headers)
    return str(r.json()["data"]["streams"][0]["state"]) if r.status_code == 200 else "off"


async def _first_frame(http: httpx.AsyncClient, url: str) -> float:
    """Seconds from the GET to the first whole video frame."""
    parser = FlvParser()
    start = time.monotonic()
    async with http.stream("GET", url) as r:
        r.raise_for_status()
        async for chunk in r.aiter_raw():
            for tag in parser.feed(chunk):
                if isinstance(tag, FlvTag) and tag.is_frame:
                    return time.monotonic() - start
    raise RuntimeError("the stream ended before its first frame")


async def _latencies(
    http: httpx.AsyncClient, url: str, seconds: float
) -> list[tuple[float, float]]:
    """(arrival, capture -> arrival in ms) of every frame for ``seconds``, skipping the
    GOP cache's frames (old by design)."""
    parser = FlvParser()
    samples: list[tuple[float, float]] = []
    start = time.time()
    async with http.stream("GET", url) as r:
        r.raise_for_status()
        async for chunk in r.aiter_raw():
            now = time.time()
            for tag in parser.feed(chunk):
                if isinstance(tag, FlvTag) and tag.is_frame:
                    stamp = find_in_avcc(tag.data[5:])
                    if stamp is not None and stamp / 1e6 > start:
                        samples.append((now, (now - stamp / 1e6) * 1000))
            if now - start > seconds:
                break
    return samples


async def run(quick: bool, minutes: float | None) -> None:
    minutes = minutes if minutes is not None else (0.5 if quick else 2.0)
    joins = 3 if quick else 10
    with demo() as (base, viewer):
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            headers = await _headers(http)

            async def online() -> bool:
                r = await http.get("/api/v2/nodes/1/status", headers=headers)
                return r.status_code == 200 and r.json()["state"] == "online"

            await until(online, "drone 1 online", 60)
            cold: list[float] = []
            for _ in range(joins):

                async def off() -> bool:
                    return await _stream_state(http, headers) == "off"

                await until(off, "the stream stopped", 30)
                # The agent says "off" as it ends its upload; the relay learns it a moment
                # later. A viewer in between would get the old stream's GOP cache at
                # once: not a cold start.
                await asyncio.sleep(SETTLE_S)
                cold.append(await _first_frame(http, viewer))
            print(
                f"live video (gosd demo, camera 640x360@15 through agent and relay): on-demand "
                f"start, GET -> first frame over {joins} cold starts: "
                f"p50 {statistics.median(cold) * 1000:.0f} ms, "
                f"p95 {percentile(cold, 95) * 1000:.0f} ms (aim <= 2000 ms)"
            )
            keeper = asyncio.create_task(_latencies(http, viewer, minutes * 60 + joins * 2))
            await until(lambda: _is_live(http, headers), "the stream is live", 30)
            warm = [await _first_frame(http, viewer) for _ in range(joins * 3)]
            print(
                f"  new viewer of a running stream, GET -> first frame over {len(warm)} joins: "
                f"p50 {statistics.median(warm) * 1000:.0f} ms, "
                f"p95 {percentile(warm, 95) * 1000:.0f} ms (aim p95 <= 300 ms)"
            )
            samples = await keeper
    values = [ms for _, ms in samples]
    t0, t1 = samples[0][0], samples[-1][0]
    window = min(60.0, (t1 - t0) / 4)
    first = [ms for t, ms in samples if t - t0 <= window]
    last = [ms for t, ms in samples if t1 - t <= window]
    print(
        f"  capture -> viewer over {(t1 - t0) / 60:.1f} min ({len(values)} frames): "
        f"p50 {statistics.median(values):.0f} ms, p99 {percentile(values, 99):.0f} ms "
        f"(aim p50 <= 500 ms); drift (median of the last {window:.0f} s minus the first "
        f"{window:.0f} s): {statistics.median(last) - statistics.median(first):+.0f} ms "
        f"(aim <= 100 ms over 30 min)"
    )


async def _is_live(http: httpx.AsyncClient, headers: dict[str, str]) -> bool:
    return await _stream_state(http, headers) == "live"
