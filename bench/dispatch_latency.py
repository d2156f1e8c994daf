"""Dispatch latency: from a job's creation to its agent accepting it, one job at a time.

A real ``gosd serve`` (embedded broker) and a real ``gosd agent`` for one node, created
with ``gosd nodes add --agent-config`` the way an operator does, its fake driver set to
finish a job in one step of zero seconds, so each job is mostly dispatch. M jobs run one
after another (the next is created once the previous succeeded). Figures:

- dispatch latency: the ``accepted`` event's ``received_at`` (the control plane stored
  the agent's event) minus the job's ``created_at``, both stamped by the control plane;
- POST to ``succeeded`` as the client sees it, polling the job every few milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import msgspec

from bench.server import LOGIN, USER, Server, cli, free_port, gosd_server, stop_process
from bench.stats import percentile
from shared import agent_config

HOST = "127.0.0.1"
POLL_S = 0.002
"""How often the client polls a job: the resolution of the client-observed figure."""
JOB_TIMEOUT_S = 30.0


def _add_node(server: Server, mqtt_listen: str, config: Path) -> int:
    """``gosd nodes add`` writing the agent's config; then a one-step, zero-second job."""
    env = {**server.env, "GOSD_PUBLIC_URL": server.base_url, "GOSD_MQTT_LISTEN": mqtt_listen}
    out = cli("nodes", "add", "bench-drone", "--type", "air", "--group", USER,
              "--agent-config", str(config), "--json", env=env)  # fmt: skip
    node_id = int(msgspec.json.decode(out)["id"])
    loaded = agent_config.load(config, environ={})
    driver = agent_config.DriverSection.of("fake", {"steps": 1, "step_s": 0})
    agent_config.write(msgspec.structs.replace(loaded, driver=driver), config)
    return node_id


def _start_agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOSD_")}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gosd", "agent", "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _wait_online(http: httpx.AsyncClient, auth: dict[str, str], node_id: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = await http.get(f"/api/v2/nodes/{node_id}/status", headers=auth)
        r.raise_for_status()
        if r.json()["state"] == "online":
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"node {node_id} never came online")


class Timing(NamedTuple):
    """One job's figures, in seconds."""

    dispatch: float
    """created_at -> the ``accepted`` event's received_at (control plane clock)."""
    round_trip: float
    """POST sent -> ``succeeded`` seen by the polling client."""
    to_dispatched: float
    """created_at -> the control plane's ``dispatched`` step: it picked the job up."""
    to_agent: float
    """``dispatched`` -> the agent stamped ``accepted`` (its clock: the same machine's)."""
    to_stored: float
    """The agent stamped ``accepted`` -> the control plane stored that event."""


def _when(event: dict[str, Any], field: str) -> float:
    return datetime.fromisoformat(event[field]).timestamp()


async def _one_job(http: httpx.AsyncClient, auth: dict[str, str], plan_id: int) -> Timing:
    posted = time.perf_counter()
    r = await http.post(f"/api/v2/plans/{plan_id}/jobs/", headers=auth)
    r.raise_for_status()
    job = r.json()
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        r = await http.get(f"/api/v2/plans/{plan_id}/jobs/{job['job_id']}", headers=auth)
        r.raise_for_status()
        status = r.json()["status"]
        if status == "succeeded":
            break
        if status in ("failed", "cancelled") or time.monotonic() > deadline:
            raise RuntimeError(f"job {job['job_id']} ended {status}: {r.json()}")
        await asyncio.sleep(POLL_S)
    round_trip = time.perf_counter() - posted
    r = await http.get(f"/api/v2/plans/{plan_id}/jobs/{job['job_id']}/events", headers=auth)
    r.raise_for_status()
    events = {e["state"]: e for e in r.json()}
    accepted, dispatched = events["accepted"], events["dispatched"]
    created = datetime.fromisoformat(job["created_at"]).timestamp()
    return Timing(
        dispatch=_when(accepted, "received_at") - created,
        round_trip=round_trip,
        to_dispatched=_when(dispatched, "received_at") - created,
        to_agent=_when(accepted, "time") - _when(dispatched, "received_at"),
        to_stored=_when(accepted, "received_at") - _when(accepted, "time"),
    )


async def run(*, jobs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="gosd-dispatch-") as tmp:
        root = Path(tmp)
        mqtt_listen = f"{HOST}:{free_port()}"
        with gosd_server({"GOSD_MQTT_LISTEN": mqtt_listen}) as server:
            config = root / "agent.toml"
            node_id = _add_node(server, mqtt_listen, config)
            agent = _start_agent(config, root / "agent.log")
            try:
                async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                    r = await http.post("/oauth/token", data=LOGIN)
                    r.raise_for_status()
                    auth = {"Authorization": "Bearer " + r.json()["access_token"]}
                    await _wait_online(http, auth, node_id)
                    body = {"name": "b", "node_id": node_id}
                    r = await http.post("/api/v2/plans/", headers=auth, json=body)
                    r.raise_for_status()
                    plan_id = int(r.json()["id"])
                    await _one_job(http, auth, plan_id)  # warm-up, not counted
                    timings = [await _one_job(http, auth, plan_id) for _ in range(jobs)]
            finally:
                stop_process(agent)
    _report(jobs, timings)


def _report(jobs: int, timings: list[Timing]) -> None:
    ms = [1000 * t.dispatch for t in timings]
    print(
        f"Dispatch latency: {jobs} jobs one after another, one agent (fake driver, 1 step "
        "of 0 s), embedded broker, loopback"
    )
    print(
        f"  created -> accepted (control plane clocks): p50={percentile(ms, 50):.1f} ms  "
        f"p99={percentile(ms, 99):.1f} ms  max={max(ms):.1f} ms"
    )
    rt = [1000 * t.round_trip for t in timings]
    print(
        f"  POST -> succeeded seen by the client (polled every {POLL_S * 1000:.0f} ms): "
        f"p50={percentile(rt, 50):.1f} ms  p99={percentile(rt, 99):.1f} ms  max={max(rt):.1f} ms"
    )
    parts = (
        ("created -> dispatched (control plane picks the job up)", "to_dispatched"),
        ("dispatched -> accepted stamped by the agent", "to_agent"),
        ("accepted stamped -> stored by the control plane", "to_stored"),
    )
    for label, name in parts:
        values = [1000 * getattr(t, name) for t in timings]
        print(
            f"    {label:<56} p50={percentile(values, 50):6.1f} ms  "
            f"p99={percentile(values, 99):6.1f} ms"
        )
