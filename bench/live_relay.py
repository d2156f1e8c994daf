"""The FLV relay's figures, against a real ``gosd serve``.

A node publishes PyAV's FLV (libx264 of ``testsrc2``, ~1 Mbit/s) in real time; viewers
are HTTP-FLV GETs. Printed: time to first frame for a new viewer (GET sent -> its first
key frame whole), relay latency (publisher's write of a frame -> a viewer's receipt of
it), the viewers one relay process serves, and what a viewer throttled to 10% of the
stream's rate adds to the others' latency. The publisher and the measuring viewer run in
this process, the crowds of counted viewers in two others, all on the same machine: the
figures include their share of the CPU.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import socket
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.server import LOGIN, Server, gosd_server
from shared.flv import FlvParser, FlvTag
from tests.flv_source import FlvEncoder

WIDTH, HEIGHT, RATE, GOP, BITRATE = 640, 360, 30, 60, 1_000_000


@dataclass
class Stream:
    base: str
    path: str
    user: dict[str, str]
    node: dict[str, str]
    sent_at: dict[int, float] = field(default_factory=dict)
    """Timestamp (ms) of each frame -> monotonic time the publisher wrote it."""
    bytes_sent: int = 0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _setup(server: Server) -> Stream:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        r = await http.post("/oauth/token", data=LOGIN)
        user = {"Authorization": "Bearer " + r.json()["access_token"]}
        body = {
            "name": "bench-cam",
            "type_name": "air",
            "points": [{"name": "front", "point_type_name": "livestream_flv"}],
        }
        r = await http.post("/api/v2/nodes/", headers=user, json=body)
        node = r.json()
        form = {
            "grant_type": "client_credentials",
            "client_id": f"node-{node['id']}",
            "client_secret": node["secret"],
        }
        r = await http.post("/oauth/token", data=form)
        node_auth = {"Authorization": "Bearer " + r.json()["access_token"]}
    path = f"/api/v2/nodes/{node['id']}/points/{node['points'][0]['id']}/live.flv"
    return Stream(server.base_url, path, user, node_auth)


async def _publish(stream: Stream, stop: asyncio.Event) -> None:
    encoder = FlvEncoder(WIDTH, HEIGHT, RATE, GOP, BITRATE)
    parser = FlvParser()

    async def body() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        start, i = loop.time(), 0
        while not stop.is_set():
            chunk = encoder.next_frame()
            now = time.monotonic()
            for tag in parser.feed(chunk):
                if isinstance(tag, FlvTag) and tag.is_video:
                    stream.sent_at.setdefault(tag.timestamp_ms, now)
            stream.bytes_sent += len(chunk)
            yield chunk
            i += 1
            await asyncio.sleep(max(0.0, start + i / RATE - loop.time()))

    # A live upload has no end to wait for; only connecting is bounded.
    timeout = httpx.Timeout(10, read=None, write=None)
    async with httpx.AsyncClient(base_url=stream.base, timeout=timeout) as http:
        await http.put(stream.path, headers=stream.node, content=body())


async def _watch(
    stream: Stream, seconds: float, latencies: list[float] | None = None
) -> tuple[float, int]:
    """One parsing viewer: answers its time to first key frame and bytes received."""
    parser = FlvParser()
    sent = time.monotonic()
    first: float | None = None
    received = 0
    async with (
        httpx.AsyncClient(base_url=stream.base, timeout=30) as http,
        http.stream("GET", stream.path, headers=stream.user) as r,
    ):
        async for chunk in r.aiter_raw():
            now = time.monotonic()
            received += len(chunk)
            for tag in parser.feed(chunk):
                if not isinstance(tag, FlvTag) or not tag.is_frame:
                    continue
                if first is None:
                    first = now - sent
                elif latencies is not None and stream.sent_at.get(tag.timestamp_ms, 0) > sent:
                    # Frames written before the GET come from the GOP cache: old by design.
                    latencies.append(now - stream.sent_at[tag.timestamp_ms])
            if now - sent > seconds:
                break
    return first or float("nan"), received


async def _raw_viewer(stream: Stream, seconds: float, rate_bytes_s: float | None = None) -> int:
    """A cheap viewer: a raw HTTP/1.1 GET whose body is counted, not parsed; with
    ``rate_bytes_s`` it reads no faster than that (a throttled player)."""
    host, port = stream.base.split("//")[1].split("/")[0].split(":")
    prefix = "/" + stream.base.split("//")[1].split("/", 1)[1]
    reader, writer = await asyncio.open_connection(host, int(port), limit=2**16)
    if rate_bytes_s:  # a small receive window, so the server's socket backs up soon
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    auth = stream.user["Authorization"]
    request = f"GET {prefix}{stream.path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
    writer.write(request.encode() + b"\r\n")
    received, start = 0, time.monotonic()
    try:
        while time.monotonic() - start < seconds:
            data = await reader.read(4096 if rate_bytes_s else 65536)
            if not data:
                break
            received += len(data)
            if rate_bytes_s:
                await asyncio.sleep(len(data) / rate_bytes_s)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return received


CROWD_PROCESSES = 2


def _crowd_part(stream: Stream, count: int, seconds: float) -> list[int]:
    async def all_of_them() -> list[int]:
        return list(await asyncio.gather(*(_raw_viewer(stream, seconds) for _ in range(count))))

    return asyncio.run(all_of_them())


async def _crowd(stream: Stream, n: int, seconds: float) -> list[int]:
    """``n`` raw viewers spread over ``CROWD_PROCESSES`` processes: bytes each received."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(CROWD_PROCESSES, mp_context=context) as pool:
        loop = asyncio.get_running_loop()
        parts = [n // CROWD_PROCESSES + (i < n % CROWD_PROCESSES) for i in range(CROWD_PROCESSES)]
        done = await asyncio.gather(
            *(loop.run_in_executor(pool, _crowd_part, stream, k, seconds) for k in parts)
        )
    return [b for part in done for b in part]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


async def run(server: Server, *, quick: bool = False) -> None:
    stream = await _setup(server)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        publisher = group.create_task(_publish(stream, stop))
        while len(stream.sent_at) < GOP * 2:  # noqa: ASYNC110 - two GOPs in; polled
            await asyncio.sleep(0.1)
        rate = stream.bytes_sent / (max(stream.sent_at) / 1000)
        print(f"live relay: {WIDTH}x{HEIGHT}@{RATE} H.264, {rate * 8 / 1e6:.2f} Mbit/s measured")

        joins = [(await _watch(stream, 0.0))[0] for _ in range(10 if quick else 40)]
        print(
            f"  time to first frame (GET -> first key frame), {len(joins)} joins: "
            f"p50 {pct(joins, 50) * 1000:.0f} ms, p95 {pct(joins, 95) * 1000:.0f} ms"
        )

        latencies: list[float] = []
        await _watch(stream, 5 if quick else 15, latencies)
        print(
            f"  relay latency (publisher write -> viewer receipt), {len(latencies)} frames: "
            f"p50 {pct(latencies, 50) * 1000:.1f} ms, p99 {pct(latencies, 99) * 1000:.1f} ms"
        )

        base_lat: list[float] = []
        throttled_lat: list[float] = []
        seconds = 5 if quick else 10
        others = [group.create_task(_raw_viewer(stream, seconds + 1)) for _ in range(10)]
        await _watch(stream, seconds, base_lat)
        await asyncio.gather(*others)
        slow = group.create_task(_raw_viewer(stream, seconds + 2, rate_bytes_s=rate * 0.1))
        others = [group.create_task(_raw_viewer(stream, seconds + 1)) for _ in range(10)]
        await _watch(stream, seconds, throttled_lat)
        await asyncio.gather(*others, slow)
        print(
            "  one viewer throttled to 10% of the rate, 10 others: p50 latency "
            f"{pct(base_lat, 50) * 1000:.1f} -> {pct(throttled_lat, 50) * 1000:.1f} ms, p99 "
            f"{pct(base_lat, 99) * 1000:.1f} -> {pct(throttled_lat, 99) * 1000:.1f} ms"
        )

        for n in (25, 50, 100) if quick else (100, 200, 400, 800, 1600):
            cpu0, t0 = _cpu_s(server.pid), time.monotonic()
            lat: list[float] = []
            # The counted viewers run in processes of their own (this one publishes
            # and measures): their share of the machine's two cores is theirs.
            crowd = asyncio.create_task(_crowd(stream, n, seconds))
            await _watch(stream, seconds - 1, lat)
            got = await crowd
            cpu = (_cpu_s(server.pid) - cpu0) / (time.monotonic() - t0)
            share = statistics.median(got) / (rate * seconds)
            print(
                f"  {n} viewers: relay CPU {cpu * 100:.0f}% of a core, median viewer got "
                f"{share * 100:.0f}% of the stream, sample latency p99 "
                f"{pct(lat, 99) * 1000:.0f} ms"
            )
            if share < 0.9 or pct(lat, 99) > 1.0 or cpu > 0.9:
                print(f"  -> viewers stop being served in time at about {n} (see the text)")
                break
        stop.set()
        await publisher


def main(quick: bool = False) -> None:
    with gosd_server() as server:
        asyncio.run(run(server, quick=quick))
