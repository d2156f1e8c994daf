"""Missions flown end to end: HTTP API -> broker -> edge agent -> MAVSDK -> ``gosd sim``.

Every piece is a process of its own, started as an operator starts it; the vehicle's true
state is read from the simulator's control socket, never from the agent under test.
The simulated vehicles live ``SPEEDUP`` times faster than the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from control_plane.demo_mission import offset, sample_plan
from shared.enums import JobStatus
from tests.e2e.fleet import BrokerKind, Fleet
from tests.e2e.sim_process import HOME, SimProcess

pytestmark = [pytest.mark.integration, pytest.mark.flight]

SPEEDUP = 10.0
TERMINAL = {s.value for s in JobStatus if s.is_terminal}
SIDE_M, ALT_M = 60.0, 15.0
"""The test square: small and low, so a flight takes seconds at ``SPEEDUP``."""


class Flight:
    """A fleet of ``drones`` MAVSDK agents, each flying its own simulated vehicle."""

    def __init__(self, fleet: Fleet, sim: SimProcess) -> None:
        self.fleet = fleet
        self.sim = sim
        self.nodes: list[tuple[int, Path]] = []

    async def start(self, **agent: Any) -> None:
        for vehicle in range(self.sim.vehicles):
            self.nodes.append(
                self.fleet.add_node(
                    f"drone-{vehicle}",
                    driver_kind="mavsdk",
                    connection=self.sim.connection(vehicle),
                    **agent,
                )
            )
        self.fleet.start_broker()
        await self.sim.start()
        await self.fleet.start_control_plane()
        for node_id, config in self.nodes:
            self.fleet.start_agent(node_id, config)
        for node_id, _ in self.nodes:
            await self.fleet.wait_node(node_id, "online", within=30)

    async def plan(self, node_id: int, mission: bytes, name: str, **extra: str) -> int:
        """Upload ``mission`` as a blob and make a plan of it for ``node_id``."""
        http, headers = self.fleet.http, self.fleet.headers
        r = await http.post("/api/v2/blobs/", headers=headers, files={"m": (name, mission)})
        assert r.status_code == 201, r.text
        body = {"name": name, "node_id": node_id, "files": {"mission": r.json()["m"]}}
        r = await http.post("/api/v2/plans/", headers=headers, json={**body, "extra": extra})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    async def run(self, plan_id: int) -> int:
        r = await self.fleet.http.post(f"/api/v2/plans/{plan_id}/jobs/", headers=self.fleet.headers)
        assert r.status_code == 201, r.text
        return int(r.json()["job_id"])

    async def job(self, plan_id: int, job_id: int) -> dict[str, Any]:
        job: dict[str, Any] = await self.fleet.get(f"/api/v2/plans/{plan_id}/jobs/{job_id}")
        return job

    async def ended(self, plan_id: int, job_id: int, within: float = 90) -> dict[str, Any]:
        return await self.fleet.wait_job(
            plan_id, job_id, lambda j: j["status"] in TERMINAL, "the job ends", within
        )

    async def events(self, plan_id: int, job_id: int) -> list[dict[str, Any]]:
        path = f"/api/v2/plans/{plan_id}/jobs/{job_id}/events"
        events: list[dict[str, Any]] = await self.fleet.get(path)
        return events

    async def story(self, plan_id: int, job_id: int) -> str:
        """The job's history, one line per event (for failure messages)."""
        return "\n".join(
            f"{e['seq']} {e['state']} {e.get('progress')} {e.get('reason')} {e.get('detail')}"
            for e in await self.events(plan_id, job_id)
        )

    async def reached(self, plan_id: int, job_id: int) -> list[int]:
        """The mission items the job's history reports reached, in order."""
        events = await self.events(plan_id, job_id)
        return [
            e["progress"]["item"]
            for e in events
            if (e.get("progress") or {}).get("item") is not None
        ]

    async def wait_item(self, plan_id: int, job_id: int, item: int) -> None:
        async def far_enough() -> bool:
            return item in await self.reached(plan_id, job_id)

        await self.fleet.eventually(far_enough, f"mission item {item} reached", within=60)


@contextlib.asynccontextmanager
async def flying(
    tmp_path: Path,
    database_url: str,
    drones: int = 1,
    broker: BrokerKind = "embedded",
    **agent: Any,
) -> AsyncIterator[Flight]:
    fleet = Fleet(tmp_path, database_url, broker, GOSD_RPC_TIMEOUT_S="5")
    sim = SimProcess(tmp_path, drones, speedup=SPEEDUP, home=HOME)
    flight = Flight(fleet, sim)
    try:
        await flight.start(**agent)
        yield flight
    except BaseException:
        print(sim.text())
        raise
    finally:
        await fleet.close()
        sim.close()


def wpl(home: tuple[float, float, float]) -> bytes:
    """The test square as QGroundControl writes a ``QGC WPL 110`` file (home as row 0)."""
    lat, lon, amsl = home
    rows = [(0, 1, 0, 16, lat, lon, amsl), (1, 0, 3, 22, lat, lon, ALT_M)]
    for north, east in [(SIDE_M, 0.0), (SIDE_M, SIDE_M), (0.0, SIDE_M), (0.0, 0.0)]:
        wlat, wlon = offset(lat, lon, north, east)
        rows.append((len(rows), 0, 3, 16, wlat, wlon, ALT_M))
    rows.append((len(rows), 0, 2, 20, 0.0, 0.0, 0.0))  # no position: MAV_FRAME_MISSION
    lines = ["QGC WPL 110"]
    for i, current, frame, command, x, y, z in rows:
        lines.append(
            f"{i}\t{current}\t{frame}\t{command}\t0\t0\t0\t0\t{x:.7f}\t{y:.7f}\t{z:.3f}\t1"
        )
    return ("\n".join(lines) + "\n").encode()


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    dlat = math.radians(b[0] - a[0])
    dlon = math.radians(b[1] - a[1]) * math.cos(math.radians(a[0]))
    return 6_371_000.0 * math.hypot(dlat, dlon)


def at_home(state: dict[str, Any]) -> bool:
    return distance_m((state["lat_deg"], state["lon_deg"]), tuple(state["home"][:2])) < 5.0


def down(state: dict[str, Any]) -> bool:
    return not state["armed"] and state["landed_state"] == "ON_GROUND"


SQUARE_PLAN = sample_plan(HOME, side_m=SIDE_M, alt_m=ALT_M)
SQUARE_ITEMS = 6  # take-off, four corners, return


@pytest.mark.parametrize(
    ("name", "mission"), [("square.plan", SQUARE_PLAN), ("square.waypoints", wpl(HOME))]
)
async def test_a_mission_flies_every_item_in_order_and_lands_at_home(
    tmp_path: Path, database_url: str, name: str, mission: bytes
) -> None:
    async with flying(tmp_path, database_url) as flight:
        ((node_id, _),) = flight.nodes
        plan_id = await flight.plan(node_id, mission, name, on_finish="rtl")
        job_id = await flight.run(plan_id)
        job = await flight.ended(plan_id, job_id)
        assert job["status"] == "succeeded", await flight.story(plan_id, job_id)
        assert await flight.reached(plan_id, job_id) == list(range(SQUARE_ITEMS))
        state = await flight.sim.status(0)
        assert down(state) and at_home(state), state
        assert state["mission_items"] == SQUARE_ITEMS, "every item of the file was uploaded"
        events = await flight.events(plan_id, job_id)
        states = [e["state"] for e in events]
        assert states[:4] == ["queued", "dispatched", "accepted", "preparing"], states
        assert states[-1] == "succeeded"
        stages = [e["progress"].get("stage") for e in events if e.get("progress")]
        assert "takeoff" in stages and "mission" in stages, stages


async def test_cancel_in_flight_returns_home_and_lands(tmp_path: Path, database_url: str) -> None:
    async with flying(tmp_path, database_url) as flight:
        ((node_id, _),) = flight.nodes
        plan_id = await flight.plan(node_id, SQUARE_PLAN, "square.plan", on_finish="hold")
        job_id = await flight.run(plan_id)
        await flight.wait_item(plan_id, job_id, 2)
        r = await flight.fleet.http.post(
            f"/api/v2/plans/{plan_id}/jobs/{job_id}/cancel", headers=flight.fleet.headers
        )
        assert r.status_code == 200, r.text
        job = await flight.ended(plan_id, job_id)
        assert job["status"] == "cancelled"
        state = await flight.sim.wait(0, "back home, landed and disarmed", lambda s: down(s), 60)
        assert at_home(state), state
        assert 4 not in await flight.reached(plan_id, job_id), "the mission did not go on"


async def test_preflight_gate_and_low_battery_fail_with_a_clear_reason(
    tmp_path: Path, database_url: str
) -> None:
    async with flying(tmp_path, database_url) as flight:
        ((node_id, _),) = flight.nodes
        plan_id = await flight.plan(node_id, SQUARE_PLAN, "square.plan", min_battery_pct="50")

        await flight.sim.request(0, "gps-loss", "on")
        job_id = await flight.run(plan_id)
        job = await flight.ended(plan_id, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "preflight_failed", job
        assert "gps" in job["error"]["message"].lower(), job
        assert not (await flight.sim.status(0))["armed"], "a failed preflight never arms"
        await flight.sim.request(0, "gps-loss", "off")

        job_id = await flight.run(plan_id)
        await flight.wait_item(plan_id, job_id, 1)
        await flight.sim.request(0, "battery", 12)
        job = await flight.ended(plan_id, job_id)
        assert job["status"] == "failed", await flight.story(plan_id, job_id)
        assert job["error"]["code"] == "low_battery", await flight.story(plan_id, job_id)
        assert down(await flight.sim.status(0))


async def test_broker_link_loss_lands_as_the_job_says_and_the_history_tells(
    tmp_path: Path, database_url: str
) -> None:
    async with flying(tmp_path, database_url, broker="mosquitto") as flight:
        ((node_id, _),) = flight.nodes
        plan_id = await flight.plan(
            node_id,
            SQUARE_PLAN,
            "square.plan",
            link_loss_action="land",
            link_loss_timeout_s="1",
        )
        job_id = await flight.run(plan_id)
        await flight.wait_item(plan_id, job_id, 2)
        flight.fleet.stop_broker()
        state = await flight.sim.wait(0, "landed where it was", down, 60)
        assert not at_home(state), "it landed, it did not go home"
        flight.fleet.start_broker()
        job = await flight.ended(plan_id, job_id)
        assert job["status"] == "failed" and job["error"]["code"] == "link_lost", job
        details = " ".join(e.get("detail", "") for e in await flight.events(plan_id, job_id))
        assert "land" in details, details


async def test_three_drones_fly_three_jobs_at_once(tmp_path: Path, database_url: str) -> None:
    async with flying(tmp_path, database_url, drones=3) as flight:
        plans = [
            await flight.plan(node_id, SQUARE_PLAN, "square.plan", on_finish="land")
            for node_id, _ in flight.nodes
        ]
        jobs = [await flight.run(plan_id) for plan_id in plans]
        flying_now = await flight.sim.wait(
            2, "the last drone is in the air", lambda s: s["landed_state"] == "IN_AIR", 60
        )
        assert flying_now["armed"]
        ends = await asyncio.gather(*(flight.ended(p, j) for p, j in zip(plans, jobs, strict=True)))
        stories = [await flight.story(p, j) for p, j in zip(plans, jobs, strict=True)]
        assert [j["status"] for j in ends] == ["succeeded"] * 3, "\n\n".join(stories)
        for vehicle in range(3):
            assert down(await flight.sim.status(vehicle))
