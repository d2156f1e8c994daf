"""Flights: dispatch to motion, and the agent's footprint while it flies.

Real processes, as an operator runs them: ``gosd serve`` (embedded broker), ``gosd sim``
(one simulated PX4 vehicle, with its control socket) and one ``gosd agent`` with the
``mavsdk`` driver, its node created by ``gosd nodes add --agent-config``. Figures:

- dispatch to motion: ``POST .../jobs/`` sent -> the vehicle armed, and -> the vehicle in
  mission mode (take-off done), read from the simulator's control socket every few ms;
  M jobs one after another, each a small square ending with a landing;
- the agent's footprint while flying a long mission at real time (speedup 1), with
  1 Hz and with 10 Hz telemetry: RSS and CPU (100% = one core) over a window of the
  flight, sampled from /proc by psutil.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psutil

from bench.server import LOGIN, USER, Server, cli, free_port, gosd_server, stop_process
from bench.stats import percentile
from control_plane.demo_mission import HOME, sample_plan
from shared import agent_config
from simulator import control

HOST = "127.0.0.1"
POLL_S = 0.005
"""How often the vehicle's state is read: the resolution of the motion figures."""


class Rig:
    """One control plane, one simulated vehicle, one agent flying it."""

    def __init__(self, server: Server, root: Path, mqtt_listen: str) -> None:
        self.server = server
        self.root = root
        self.mqtt_listen = mqtt_listen
        self.sim_port = free_port("0.0.0.0", socket.SOCK_DGRAM)
        self.control_port = free_port()
        self.sim: subprocess.Popen[bytes] | None = None
        self.agent: subprocess.Popen[bytes] | None = None
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=30)
        self.auth: dict[str, str] = {}

    async def start(self, *, speedup: float, telemetry_hz: float) -> int:
        """Start the simulator and the agent; answers the node id once it is online."""
        lat, lon, alt = HOME
        self.sim = _spawn(
            [
                *(sys.executable, "-m", "gosd", "sim", "--base-port", str(self.sim_port)),
                *("--speedup", str(speedup), "--home", f"{lat},{lon},{alt}"),
                *("--control", str(self.control_port)),
            ],
            self.root / "sim.log",
        )
        config = self.root / "agent.toml"
        env = {**self.server.env, "GOSD_PUBLIC_URL": self.server.base_url}
        env["GOSD_MQTT_LISTEN"] = self.mqtt_listen
        out = cli("nodes", "add", f"drone-{self.sim_port}", "--type", "air", "--group", USER,
                  "--agent-config", str(config), "--json", env=env)  # fmt: skip
        node_id = int(msgspec.json.decode(out)["id"])
        loaded = agent_config.load(config, environ={})
        settings: dict[str, Any] = {
            "connection": f"udpin://0.0.0.0:{self.sim_port}",
            "telemetry_period_s": min(0.5, 1 / telemetry_hz),
            "telemetry_rate_hz": max(telemetry_hz, 1.0),
        }
        loaded = msgspec.structs.replace(
            loaded,
            agent=msgspec.structs.replace(loaded.agent, telemetry_hz=telemetry_hz),
            driver=agent_config.DriverSection.of("mavsdk", settings),
        )
        agent_config.write(loaded, config)
        self.agent = _spawn(
            [sys.executable, "-m", "gosd", "agent", "--config", str(config)],
            self.root / "agent.log",
        )
        r = await self.http.post("/oauth/token", data=LOGIN)
        r.raise_for_status()
        self.auth = {"Authorization": "Bearer " + r.json()["access_token"]}
        await self._until(lambda: self._state_is(node_id, "online"), "the node is online", 60)
        return node_id

    async def plan(self, node_id: int, mission: bytes, **extra: str) -> int:
        r = await self.http.post(
            "/api/v2/blobs/", headers=self.auth, files={"m": ("bench.plan", mission)}
        )
        r.raise_for_status()
        body = {"name": "bench", "node_id": node_id, "files": {"mission": r.json()["m"]}}
        r = await self.http.post("/api/v2/plans/", headers=self.auth, json={**body, "extra": extra})
        r.raise_for_status()
        return int(r.json()["id"])

    async def vehicle(self) -> dict[str, Any]:
        answer = await control.request(self.control_port, {"vehicle": 0, "fault": "status"})
        state: dict[str, Any] = answer["state"]
        return state

    async def job(self, plan_id: int, job_id: int) -> dict[str, Any]:
        r = await self.http.get(f"/api/v2/plans/{plan_id}/jobs/{job_id}", headers=self.auth)
        r.raise_for_status()
        job: dict[str, Any] = r.json()
        return job

    async def _state_is(self, node_id: int, state: str) -> bool:
        r = await self.http.get(f"/api/v2/nodes/{node_id}/status", headers=self.auth)
        return r.status_code == 200 and r.json()["state"] == state

    async def _until(self, probe: Any, what: str, within_s: float) -> None:
        deadline = time.monotonic() + within_s
        while not await probe():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out: {what}\n{self.logs()}")
            await asyncio.sleep(POLL_S)

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in (self.root / "sim.log", self.root / "agent.log")
            if p.exists()
        )

    async def close(self) -> None:
        await self.http.aclose()
        for proc in (self.agent, self.sim):
            if proc is not None:
                stop_process(proc)


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """A child process logging to ``log``, without the ``GOSD_*`` settings of this one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOSD_")}
    with log.open("ab") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


@contextlib.asynccontextmanager
async def running_rig(*, speedup: float, telemetry_hz: float) -> AsyncIterator[tuple[Rig, int]]:
    """A control plane, a simulator and an online agent; answers the rig and the node id."""
    with tempfile.TemporaryDirectory(prefix="gosd-flight-") as tmp:
        mqtt_listen = f"{HOST}:{free_port()}"
        with gosd_server({"GOSD_MQTT_LISTEN": mqtt_listen}) as server:
            rig = Rig(server, Path(tmp), mqtt_listen)
            try:
                yield rig, await rig.start(speedup=speedup, telemetry_hz=telemetry_hz)
            finally:
                await rig.close()


async def dispatch_to_motion(*, jobs: int, speedup: float) -> None:
    """M jobs one after another; each POST timed to armed and to mission mode."""
    async with running_rig(speedup=speedup, telemetry_hz=1.0) as (rig, node_id):
        mission = sample_plan(HOME, side_m=20.0, alt_m=5.0)
        plan_id = await rig.plan(node_id, mission, on_finish="land", takeoff_alt_m="5")
        to_armed: list[float] = []
        to_mission: list[float] = []
        for _ in range(jobs + 1):  # the first is a warm-up, not counted
            armed, in_mission = await _one_flight(rig, plan_id)
            to_armed.append(armed)
            to_mission.append(in_mission)
    to_armed, to_mission = to_armed[1:], to_mission[1:]
    print(
        f"Dispatch to motion: {jobs} jobs one after another, one MAVSDK agent, one simulated "
        f"vehicle ({speedup:g}x real time, take-off to 5 m), embedded broker, loopback"
    )
    for label, values in (("POST -> armed", to_armed), ("POST -> mission mode", to_mission)):
        ms = [1000 * v for v in values]
        print(
            f"  {label:<22} p50={percentile(ms, 50):7.1f} ms  p99={percentile(ms, 99):7.1f} ms"
            f"  max={max(ms):7.1f} ms"
        )


async def _one_flight(rig: Rig, plan_id: int) -> tuple[float, float]:
    # A fresh battery, as after a swap: thirty flights in a row would drain one.
    await control.request(rig.control_port, {"vehicle": 0, "fault": "battery", "value": 100})
    posted = time.perf_counter()
    r = await rig.http.post(f"/api/v2/plans/{plan_id}/jobs/", headers=rig.auth)
    r.raise_for_status()
    job_id = int(r.json()["job_id"])
    armed_at: float | None = None
    while True:
        state = await rig.vehicle()
        now = time.perf_counter()
        if armed_at is None and state["armed"]:
            armed_at = now
        if state["mode"] == "AUTO_MISSION" and state["armed"]:
            in_mission = now
            break
        if now - posted > 60:
            raise RuntimeError(f"no mission mode 60 s after the POST: {state}\n{rig.logs()}")
        await asyncio.sleep(POLL_S)
    assert armed_at is not None

    async def ended() -> bool:
        return (await rig.job(plan_id, job_id))["status"] in ("succeeded", "failed")

    await rig._until(ended, f"job {job_id} ends", 120)
    job = await rig.job(plan_id, job_id)
    if job["status"] != "succeeded":
        raise RuntimeError(f"job {job_id} failed: {job}\n{rig.logs()}")
    return armed_at - posted, in_mission - posted


async def footprint(*, telemetry_hz: float, window_s: float) -> None:
    """The agent's RSS and CPU over ``window_s`` of a real-time flight."""
    async with running_rig(speedup=1.0, telemetry_hz=telemetry_hz) as (rig, node_id):
        mission = sample_plan(HOME, side_m=400.0, alt_m=20.0)
        plan_id = await rig.plan(node_id, mission, on_finish="land")
        r = await rig.http.post(f"/api/v2/plans/{plan_id}/jobs/", headers=rig.auth)
        r.raise_for_status()

        async def in_mission() -> bool:
            return (await rig.vehicle())["mode"] == "AUTO_MISSION"

        await rig._until(in_mission, "the vehicle flies its mission", 120)
        assert rig.agent is not None
        agent = psutil.Process(rig.agent.pid)
        cpu_start = agent.cpu_times()
        started = time.monotonic()
        rss: list[int] = []
        while time.monotonic() - started < window_s:
            rss.append(agent.memory_info().rss)
            await asyncio.sleep(0.5)
        cpu_end = agent.cpu_times()
        elapsed = time.monotonic() - started
        state = await rig.vehicle()
    cpu_s = (cpu_end.user - cpu_start.user) + (cpu_end.system - cpu_start.system)
    print(
        f"Agent footprint flying at real time, {telemetry_hz:g} Hz telemetry, over "
        f"{elapsed:.0f} s of mission (vehicle still {state['mode']}): "
        f"RSS max {max(rss) / 2**20:.1f} MiB, CPU {100 * cpu_s / elapsed:.1f}% of a core"
    )


async def run(*, quick: bool) -> None:
    await dispatch_to_motion(jobs=5 if quick else 30, speedup=20.0)
    for hz in (1.0, 10.0):
        await footprint(telemetry_hz=hz, window_s=10.0 if quick else 30.0)
