"""Requests/s and latency of the hot read routes and a write route, against the bare route.

The load comes from ``wrk`` where it is installed (``/usr/bin/wrk``, Debian's package):
50 keep-alive connections for a fixed time per route, the token in a small Lua script.
Without it, a Python load generator stands in; it shares the 2 cores with the server and
saturates first, so its absolute figures are client-bound. Either way the ratio to the
bare route (same generator, same run) is the figure to compare between commits.

Only the HTTP API and ``gosd users/clients add`` are used, so the same bench measures
any checkout of the server (``python -m bench --only api --server-src DIR``).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.server import LOGIN, Server

POINTS = [
    {"name": "cam", "point_type_name": "livestream_flv"},
    {"name": "status", "point_type_name": "drone_status"},
    {"name": "battery", "point_type_name": "battery"},
]


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    """Below the server's base URL (``/gosd``)."""
    authenticated: bool = True


@dataclass(frozen=True)
class Figures:
    requests_per_s: float
    p50_ms: float
    p99_ms: float


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.post("/oauth/token", data=LOGIN)
    r.raise_for_status()
    return {"Authorization": "Bearer " + r.json()["access_token"]}


async def _populate(client: httpx.AsyncClient, auth: dict[str, str], count: int) -> int:
    """``count`` nodes with 3 points and ``count`` plans; answers a plan id."""
    node_ids = []
    for i in range(count):
        r = await client.post(
            "/api/v2/nodes/",
            headers=auth,
            json={"name": f"drone-{i}", "type_name": "air", "points": POINTS},
        )
        r.raise_for_status()
        node_ids.append(r.json()["id"])
    plan_id = 0
    for i, node_id in enumerate(node_ids):
        r = await client.post(
            "/api/v2/plans/",
            headers=auth,
            json={"name": f"plan-{i}", "node_id": node_id, "extra": {"on_finish": "rtl"}},
        )
        r.raise_for_status()
        plan_id = r.json()["id"]
    return plan_id


# --- wrk ----------------------------------------------------------------------------

# wrk's ``done`` hook prints one line this module parses: requests, duration (us), non-2xx
# answers, socket errors, p50 and p99 latency (us).
_WRK_SCRIPT = """\
wrk.method = "{method}"
{header}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _wrk(
    wrk: str, url: str, method: str, token: str | None, *, connections: int, seconds: float
) -> Figures:
    header = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    with tempfile.TemporaryDirectory(prefix="gosd-wrk-") as tmp:
        script = Path(tmp) / "route.lua"
        script.write_text(_WRK_SCRIPT.format(method=method, header=header))
        result = subprocess.run(
            [
                wrk,
                f"-t{min(2, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures: {result.stdout}{result.stderr}")
    requests, duration_us, bad_status, socket_errors, p50_us, p99_us = map(int, line.split()[1:])
    if bad_status or socket_errors:
        raise RuntimeError(
            f"{method} {url}: {bad_status} answers were not 2xx/3xx, {socket_errors} socket errors"
        )
    return Figures(requests / (duration_us / 1e6), p50_us / 1000, p99_us / 1000)


# --- Python fallback --------------------------------------------------------------


async def _measure(
    client: httpx.AsyncClient, make: Callable[[], object], requests: int, concurrency: int
) -> Figures:
    """Figures of ``requests`` calls from ``concurrency`` workers."""
    latencies: list[float] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            response = await make()  # type: ignore[misc]
            latencies.append(time.perf_counter() - start)
            if response.status_code >= 400:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(concurrency):
            tg.create_task(worker())
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Figures(
        len(latencies) / elapsed,
        latencies[len(latencies) // 2] * 1000,
        latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
    )


# --- the run ------------------------------------------------------------------------


def _row(name: str, figures: Figures, bare_rps: float) -> str:
    return (
        f"  {name:<44} {figures.requests_per_s:9.1f} {figures.p50_ms:9.2f} "
        f"{figures.p99_ms:9.2f} {figures.requests_per_s / bare_rps:7.2f}x"
    )


async def run(
    server: Server,
    *,
    seconds: float,
    requests: int,
    concurrency: int = 50,
    count: int = 100,
) -> None:
    """Seed ``count`` nodes (3 points each) and ``count`` plans, then load each route.

    ``seconds`` per route with wrk; ``requests`` per route with the Python fallback.
    """
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:
        auth = await _login(client)
        token = auth["Authorization"].removeprefix("Bearer ")
        plan_id = await _populate(client, auth, count)
        routes = [
            Route("GET /api/v2/ok (bare)", "GET", "/api/v2/ok", authenticated=False),
            Route("GET /api/v1/user/ (authenticated, trivial)", "GET", "/api/v1/user/"),
            Route(f"GET /api/v1/nodes/ ({count} nodes x 3 points)", "GET", "/api/v1/nodes/"),
            Route(f"GET /api/v2/nodes/ ({count} nodes x 3 points)", "GET", "/api/v2/nodes/"),
            Route(f"GET /api/v2/plans/ ({count} plans)", "GET", "/api/v2/plans/"),
            # Last: every call queues one more job.
            Route("POST /api/v2/plans/:id/jobs/", "POST", f"/api/v2/plans/{plan_id}/jobs/"),
        ]
        single = routes[1]
        wrk = shutil.which("wrk")
        table: list[tuple[str, Figures]] = []
        if wrk is not None:
            print(f"API load: wrk, {concurrency} keep-alive connections, {seconds:g} s per route")

            def load(route: Route, connections: int) -> Figures:
                assert wrk is not None
                return _wrk(
                    wrk,
                    server.base_url + route.path,
                    route.method,
                    token if route.authenticated else None,
                    connections=connections,
                    seconds=seconds,
                )

            load(routes[0], concurrency)  # warm-up
            for route in routes:
                table.append((route.name, await asyncio.to_thread(load, route, concurrency)))
            one = await asyncio.to_thread(load, single, 1)
        else:
            print(
                f"API load: wrk is not installed, so a Python load generator ({requests} "
                f"requests per route, {concurrency} concurrent clients) on the same 2 cores: "
                "it saturates before the server, compare the ratios only"
            )

            def call(route: Route) -> Callable[[], object]:
                headers = auth if route.authenticated else {}
                return lambda: client.request(route.method, route.path, headers=headers)

            await _measure(client, call(routes[0]), 200, concurrency)  # warm-up
            for route in routes:
                table.append(
                    (route.name, await _measure(client, call(route), requests, concurrency))
                )
            one = await _measure(client, call(single), min(requests, 1000), 1)
        bare_rps = table[0][1].requests_per_s
        print(f"  {'route':<44} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'/bare':>8}")
        for name, figures in table:
            print(_row(name, figures, bare_rps))
        print(
            f"  one request at a time, {single.name}: "
            f"p50 {one.p50_ms:.2f} ms, p99 {one.p99_ms:.2f} ms ({one.requests_per_s:.0f} req/s)"
        )
