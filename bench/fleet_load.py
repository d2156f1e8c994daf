"""Fleet load: how many nodes sending 1 Hz telemetry one control plane keeps up with.

A real ``gosd serve`` on a fresh SQLite data dir; N nodes created over the API; one
load-generator process (``fleet_gen``) connecting N MQTT clients with the nodes' own
credentials and sending ``nodes/{id}/msg/bench`` once a second each, spread evenly over
the second. Figures per fleet size, against the embedded broker and against Mosquitto:

- telemetry lag at the control plane: ``received_at`` of GET .../msg/bench minus the
  ``t`` the generator stamped, polled on random nodes for a whole window;
- the control plane's CPU (100 % = one core) and RSS, from psutil on its PID;
- p99 of sequential ``GET /api/v2/nodes/`` while the fleet is sending;
- the baseline: the same fleet against the same kind of broker with no control plane
  consuming, a bare subscriber measuring ``receive time - t`` (``bare_subscriber``).

Sizes grow until the control plane's p99 lag reaches ``LAG_LIMIT_MS``. Everything runs
on this machine's 2 cores: generator, broker and control plane compete for them, which
is why the generator's own CPU and schedule slip are printed beside the figures.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import msgspec
import psutil  # type: ignore[import-untyped]

from bench.bare_subscriber import SubscriberConfig
from bench.child import Child
from bench.fleet_gen import TELEMETRY_NAME, GenConfig
from bench.mosquitto import Mosquitto
from bench.server import LOGIN, Server, free_port, gosd_server
from bench.stats import percentile
from shared.topics import CONTROL_PLANE_USERNAME

BrokerKind = Literal["embedded", "mosquitto"]
HOST = "127.0.0.1"
LAG_LIMIT_MS = 250.0
"""A fleet size "holds" while the control plane's p99 telemetry lag stays below this."""
GEN_BOUND_CPU_PCT = 90.0
"""Generator CPU above this (of one core) means it, not the system, may be the limit."""
GEN_BOUND_SLIP_MS = 100.0
"""So does a p99 schedule slip above this: it could not send on time."""


POLL_INTERVAL_S = 0.02
"""Lag polling pace (50 requests/s): enough samples, without the poll itself becoming the
load that the control plane spends its CPU on."""


@dataclass(frozen=True)
class Settings:
    sizes: list[int]
    window_s: float
    """How long lag is sampled per size (and per baseline)."""
    warmup_s: float
    quiet_s: float
    """CPU measured over this long with no HTTP requests: the fleet's cost alone."""
    api_requests: int


FULL = Settings(
    sizes=[250, 500, 1000, 1500, 2000, 3000, 4000],
    window_s=20,
    warmup_s=3,
    quiet_s=5,
    api_requests=60,
)
QUICK = Settings(sizes=[100], window_s=5, warmup_s=2, quiet_s=2, api_requests=10)


@dataclass
class Result:
    size: int
    lag_p50_ms: float
    lag_p99_ms: float
    samples: int
    cpu_pct: float
    """Over a quiet window: the fleet's telemetry and nothing else."""
    cpu_polled_pct: float
    """While the lag was polled (50 GET/s on top of the fleet)."""
    rss_mib: float
    api_p50_ms: float
    api_p99_ms: float
    broker_cpu_pct: float | None
    """Mosquitto's own CPU; None for the embedded broker (it is in the control plane)."""
    connect_s: float
    gen: dict[str, Any]
    bare: dict[str, Any] | None = None
    bare_gen: dict[str, Any] | None = None

    @property
    def ratio(self) -> float:
        if not self.bare or not self.bare.get("p99_ms"):
            return math.nan
        return self.lag_p99_ms / float(self.bare["p99_ms"])

    @property
    def gen_bound(self) -> bool:
        gens = [g for g in (self.gen, self.bare_gen) if g]
        return any(
            g["cpu_pct"] > GEN_BOUND_CPU_PCT or g["slip_p99_ms"] > GEN_BOUND_SLIP_MS for g in gens
        )


# -- the API side -----------------------------------------------------------------------


async def _login(http: httpx.AsyncClient) -> dict[str, str]:
    r = await http.post("/oauth/token", data=LOGIN)
    r.raise_for_status()
    return {"Authorization": "Bearer " + r.json()["access_token"]}


async def _grow(
    http: httpx.AsyncClient, auth: dict[str, str], nodes: list[tuple[int, str]], size: int
) -> None:
    """Create nodes over the API until there are ``size``; four requests at a time."""

    async def create(i: int) -> tuple[int, str]:
        body = {"name": f"bench-{i}", "type_name": "air"}
        r = await http.post("/api/v2/nodes/", headers=auth, json=body)
        r.raise_for_status()
        created = r.json()
        return int(created["id"]), str(created["secret"])

    while len(nodes) < size:
        start = len(nodes)
        batch = range(start, min(size, start + 4))
        nodes.extend(await asyncio.gather(*(create(i) for i in batch)))


async def _wait_online(http: httpx.AsyncClient, auth: dict[str, str], node_id: int) -> None:
    """Until the control plane has the node's status (its bridge may still be connecting)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = await http.get(f"/api/v2/nodes/{node_id}/status", headers=auth)
        if r.status_code == 200 and r.json()["state"] == "online":
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the control plane never saw node {node_id} online")


async def _sample_lag(
    http: httpx.AsyncClient, auth: dict[str, str], node_ids: list[int], window_s: float
) -> list[float]:
    """Poll random nodes' latest ``bench`` message for ``window_s``; one lag per message."""
    seen: set[tuple[int, int]] = set()
    lags: list[float] = []
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline:
        node_id = random.choice(node_ids)  # noqa: S311
        r = await http.get(f"/api/v2/nodes/{node_id}/msg/{TELEMETRY_NAME}", headers=auth)
        if r.status_code != 200:
            await asyncio.sleep(POLL_INTERVAL_S)
            continue  # nothing from that node yet
        sample = r.json()
        key = (node_id, int(sample["data"]["n"]))
        if key in seen:
            await asyncio.sleep(POLL_INTERVAL_S)
            continue
        seen.add(key)
        received = datetime.fromisoformat(sample["received_at"]).timestamp()
        lags.append(received - float(sample["data"]["t"]))
        await asyncio.sleep(POLL_INTERVAL_S)
    return lags


async def _api_latency(
    http: httpx.AsyncClient, auth: dict[str, str], requests: int
) -> tuple[float, float]:
    """(p50, p99) seconds of sequential ``GET /api/v2/nodes/``, at most 30 s of them."""
    latencies: list[float] = []
    deadline = time.monotonic() + 30
    while len(latencies) < requests and time.monotonic() < deadline:
        start = time.perf_counter()
        r = await http.get("/api/v2/nodes/", headers=auth)
        latencies.append(time.perf_counter() - start)
        r.raise_for_status()
    return percentile(latencies, 50), percentile(latencies, 99)


# -- one size ---------------------------------------------------------------------------


def _write(path: Path, config: msgspec.Struct) -> str:
    path.write_bytes(msgspec.json.encode(config))
    return str(path)


async def _start_fleet(root: Path, tag: str, port: int, nodes: list[tuple[int, str]]) -> Child:
    config = _write(root / f"gen-{tag}.json", GenConfig(HOST, port, nodes))
    gen = await Child.start("bench.fleet_gen", config, log=root / f"gen-{tag}.log")
    try:
        await gen.expect("ready", timeout_s=600)
    except BaseException:
        await gen.stop()
        raise
    return gen


async def _measure_control_plane(
    server: Server,
    http: httpx.AsyncClient,
    auth: dict[str, str],
    root: Path,
    port: int,
    nodes: list[tuple[int, str]],
    settings: Settings,
    broker: psutil.Process | None,
) -> Result:
    started = time.monotonic()
    gen = await _start_fleet(root, f"cp-{len(nodes)}", port, nodes)
    try:
        connect_s = time.monotonic() - started
        await _wait_online(http, auth, nodes[-1][0])
        await asyncio.sleep(settings.warmup_s)
        cp = psutil.Process(server.pid)
        cp.cpu_percent(None)
        if broker is not None:
            broker.cpu_percent(None)
        await asyncio.sleep(settings.quiet_s)
        cpu = cp.cpu_percent(None)
        broker_cpu = broker.cpu_percent(None) if broker is not None else None
        lags = await _sample_lag(http, auth, [n for n, _ in nodes], settings.window_s)
        cpu_polled = cp.cpu_percent(None)
        rss = cp.memory_info().rss
        api_p50, api_p99 = await _api_latency(http, auth, settings.api_requests)
        done = await gen.finish()
    finally:
        await gen.stop()
    return Result(
        size=len(nodes),
        lag_p50_ms=1000 * percentile(lags, 50),
        lag_p99_ms=1000 * percentile(lags, 99),
        samples=len(lags),
        cpu_pct=cpu,
        cpu_polled_pct=cpu_polled,
        rss_mib=rss / 2**20,
        api_p50_ms=1000 * api_p50,
        api_p99_ms=1000 * api_p99,
        broker_cpu_pct=broker_cpu,
        connect_s=connect_s,
        gen=done,
    )


async def _measure_bare(
    root: Path,
    port: int,
    password: str,
    nodes: list[tuple[int, str]],
    settings: Settings,
    broker: psutil.Process,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The baseline of one size: (bare subscriber's figures with the broker's CPU,
    generator's figures)."""
    gen = await _start_fleet(root, f"bare-{len(nodes)}", port, nodes)
    sub: Child | None = None
    try:
        await asyncio.sleep(settings.warmup_s)
        config = _write(root / "sub.json", SubscriberConfig(HOST, port, password))
        sub = await Child.start("bench.bare_subscriber", config, log=root / "sub.log")
        await sub.expect("ready", timeout_s=30)
        broker.cpu_percent(None)
        await asyncio.sleep(settings.window_s)
        broker_cpu = broker.cpu_percent(None)
        bare = {**await sub.finish(), "broker_cpu_pct": broker_cpu}
        done = await gen.finish()
    finally:
        if sub is not None:
            await sub.stop()
        await gen.stop()
    return bare, done


# -- one broker -------------------------------------------------------------------------


async def _run_broker(kind: BrokerKind, settings: Settings) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="gosd-fleet-") as tmp:
        root = Path(tmp)
        port, password = free_port(), secrets.token_hex(16)
        data_dir = root / "data"
        extra = {"GOSD_DATA_DIR": str(data_dir)}
        if kind == "embedded":
            extra["GOSD_MQTT_LISTEN"] = f"{HOST}:{port}"
        else:
            extra["GOSD_MQTT_URL"] = f"mqtt://{CONTROL_PLANE_USERNAME}:{password}@{HOST}:{port}"
        mosquitto = Mosquitto(root / "mosquitto", port) if kind == "mosquitto" else None
        nodes: list[tuple[int, str]] = []
        try:
            with gosd_server(extra) as server:
                async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as http:
                    auth = await _login(http)
                    for size in settings.sizes:
                        await _grow(http, auth, nodes, size)
                        broker = None
                        if mosquitto is not None:
                            mosquitto.configure(server.env)
                            broker = psutil.Process(mosquitto.pid)
                        result = await _measure_control_plane(
                            server, http, auth, root, port, nodes[:size], settings, broker
                        )
                        results.append(result)
                        print(f"    {kind} {size} nodes: {_cp_figures(result)}", flush=True)
                        if not result.lag_p99_ms < LAG_LIMIT_MS:
                            break
            _print_server_log(kind, list(server.log_tail))
            # The control plane has stopped: nothing consumes but the bare subscriber.
            bare_broker: Child | None = None
            if kind == "embedded":
                db_url = f"sqlite://{data_dir / 'gosd.sqlite3'}"
                bare_broker = await Child.start(
                    "bench.bare_broker", db_url, str(port), password, log=root / "broker.log"
                )
                await bare_broker.expect("ready", timeout_s=30)
            broker_pid = bare_broker.pid if bare_broker is not None else None
            if mosquitto is not None:
                broker_pid = mosquitto.pid
            assert broker_pid is not None
            try:
                for result in results:
                    result.bare, result.bare_gen = await _measure_bare(
                        root,
                        port,
                        password,
                        nodes[: result.size],
                        settings,
                        psutil.Process(broker_pid),
                    )
                    print(f"    {kind} {result.size} nodes, bare: {_bare_figures(result)}")
            finally:
                if bare_broker is not None:
                    await bare_broker.stop()
        finally:
            if mosquitto is not None:
                mosquitto.stop()
    return results


# -- report -----------------------------------------------------------------------------


def _print_server_log(kind: BrokerKind, lines: list[str]) -> None:
    """What the control plane complained about under load (it logs warnings and up)."""
    # Against Mosquitto the control plane starts first (the broker's files need the
    # nodes), so its bridge failing to connect at first is expected, not news.
    serious = [
        line
        for line in lines
        if ("WARNING" in line or "ERROR" in line) and "cannot reach the broker" not in line
    ]
    if serious:
        print(f"    {kind}: the control plane logged {len(serious)} warnings/errors; last ones:")
        for line in serious[-3:]:
            print(f"      {line[:200]}")


def _cp_figures(r: Result) -> str:
    broker = f" broker_cpu={r.broker_cpu_pct:.0f}%" if r.broker_cpu_pct is not None else ""
    return (
        f"lag p50={r.lag_p50_ms:.1f} ms p99={r.lag_p99_ms:.1f} ms (n={r.samples}) "
        f"cpu={r.cpu_pct:.0f}% (polled {r.cpu_polled_pct:.0f}%) rss={r.rss_mib:.0f} MiB{broker} "
        f"api p50={r.api_p50_ms:.1f} ms p99={r.api_p99_ms:.1f} ms "
        f"gen cpu={r.gen['cpu_pct']:.0f}% slip_p99={r.gen['slip_p99_ms']:.1f} ms "
        f"rate={r.gen['rate']:.0f}/s connect={r.connect_s:.1f} s"
    )


def _bare_figures(r: Result) -> str:
    assert r.bare is not None
    assert r.bare_gen is not None
    return (
        f"lag p50={r.bare['p50_ms']:.1f} ms p99={r.bare['p99_ms']:.1f} ms "
        f"(n={r.bare['count']}, {r.bare['rate']:.0f} msg/s) "
        f"broker cpu={r.bare['broker_cpu_pct']:.0f}% "
        f"gen cpu={r.bare_gen['cpu_pct']:.0f}% slip_p99={r.bare_gen['slip_p99_ms']:.1f} ms"
    )


def _report(kind: BrokerKind, results: list[Result], settings: Settings) -> None:
    what = "embedded broker (amqtt, in the control plane)" if kind == "embedded" else "Mosquitto"
    print(
        f"  {what}: lag polled {settings.window_s:.0f} s per size; cp_cpu over "
        f"{settings.quiet_s:.0f} s with no HTTP requests (100% = one core); bare_*: the "
        "baseline, control plane stopped; brk_cpu: the broker's CPU during the baseline"
    )
    print(
        "    nodes  lag_p50  lag_p99  samples   cp_cpu  cp_rss  api_p99  "
        "bare_p50 bare_p99  p99/bare  brk_cpu  gen_cpu"
    )
    for r in results:
        bare50 = r.bare["p50_ms"] if r.bare else math.nan
        bare99 = r.bare["p99_ms"] if r.bare else math.nan
        brk = r.bare["broker_cpu_pct"] if r.bare else math.nan
        flag = "  generator-bound?" if r.gen_bound else ""
        print(
            f"    {r.size:5d} {r.lag_p50_ms:7.1f}ms {r.lag_p99_ms:7.1f}ms {r.samples:7d} "
            f"{r.cpu_pct:7.0f}% {r.rss_mib:5.0f}MiB {r.api_p99_ms:6.1f}ms "
            f"{bare50:7.1f}ms {bare99:7.1f}ms {r.ratio:8.1f}x {brk:6.0f}% "
            f"{r.gen['cpu_pct']:6.0f}%{flag}"
        )
    holding = [r for r in results if r.lag_p99_ms < LAG_LIMIT_MS]
    if holding:
        best = max(holding, key=lambda r: r.size)
        print(
            f"    largest fleet with p99 lag < {LAG_LIMIT_MS:.0f} ms: {best.size} nodes "
            f"(cpu {best.cpu_pct:.0f}%, rss {best.rss_mib:.0f} MiB, "
            f"GET /api/v2/nodes/ p99 {best.api_p99_ms:.1f} ms)"
            + (" - the largest size tried" if best is results[-1] else "")
        )
    else:
        print(f"    no fleet size tried kept p99 lag < {LAG_LIMIT_MS:.0f} ms")
    if any(r.gen_bound for r in results):
        print(
            f"    generator-bound?: the load generator used > {GEN_BOUND_CPU_PCT:.0f}% of a core "
            f"or slipped > {GEN_BOUND_SLIP_MS:.0f} ms (p99) behind its schedule there: "
            "those rows measure the generator as much as the control plane"
        )


async def run(settings: Settings) -> None:
    print(
        "Fleet load: N MQTT clients (one per node, one generator process) send 1 Hz "
        "telemetry; lag = control plane's received_at - sent t"
    )
    for kind in ("embedded", "mosquitto"):
        results = await _run_broker(kind, settings)
        _report(kind, results, settings)
