"""Requests/s and latency of the main read and write routes, against the bare route.

A Python load generator shares the 2 cores with the server, so absolute figures are
partly client-bound; the ratio to the bare route (same generator, same run) is the
figure to compare.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from bench.server import LOGIN, Server

POINTS = [
    {"name": "cam", "point_type_name": "livestream_flv"},
    {"name": "status", "point_type_name": "drone_status"},
    {"name": "battery", "point_type_name": "battery"},
]


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


async def _measure(
    client: httpx.AsyncClient, make: Callable[[], object], requests: int, concurrency: int
) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) for ``requests`` calls from ``concurrency`` workers."""
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
    return (
        len(latencies) / elapsed,
        latencies[len(latencies) // 2] * 1000,
        latencies[int(len(latencies) * 0.99) - 1] * 1000,
    )


async def run(server: Server, *, requests: int, concurrency: int = 50, count: int = 100) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:
        auth = await _login(client)
        plan_id = await _populate(client, auth, count)
        routes: list[tuple[str, Callable[[], object]]] = [
            ("GET /api/v2/ok (bare)", lambda: client.get("/api/v2/ok")),
            (
                f"GET /api/v1/nodes/ ({count} nodes x 3 points)",
                lambda: client.get("/api/v1/nodes/", headers=auth),
            ),
            (
                f"GET /api/v2/plans/ ({count} plans)",
                lambda: client.get("/api/v2/plans/", headers=auth),
            ),
            (
                "POST /api/v2/plans/:id/jobs/",
                lambda: client.post(f"/api/v2/plans/{plan_id}/jobs/", headers=auth),
            ),
        ]
        await _measure(client, routes[0][1], 200, concurrency)  # warm-up
        print(
            f"API load: {requests} requests per route, {concurrency} concurrent clients, "
            "Python load generator on the same 2 cores (client-bound)"
        )
        bare_rps = 0.0
        for name, make in routes:
            rps, p50, p99 = await _measure(client, make, requests, concurrency)
            bare_rps = bare_rps or rps
            print(
                f"  {name:<42} rps={rps:8.1f}  p50={p50:7.1f} ms  p99={p99:7.1f} ms  "
                f"ratio_to_bare={rps / bare_rps:5.2f}"
            )
