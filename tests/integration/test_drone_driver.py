"""The ``mavsdk`` drone driver against the simulator: real MAVSDK, real UDP, fast clock.

Each test gets its own simulated vehicle on a free UDP port, sped up so a mission takes
seconds, and the driver exactly as the agent builds it (``load_driver("mavsdk", ...)``).
What is asserted is what a user would notice: the items reached in order, where the
vehicle ends up, armed or not, and the job's failure reason and detail.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.drivers import DriverError, load_driver
from edge_agent.drivers.drone import DroneDriver
from edge_agent.drivers.vehicle import Mode, Outcome, VehicleCommandError
from shared import mav_cmd
from shared.errors import JobFailure, RpcErrorCode
from shared.messages import JobSpec, Progress
from shared.mission import parse_mission_file
from simulator.fleet import SimFleet
from tests.integration.agent_harness import SIM_HOME, free_udp_port, wpl_mission
from tests.plan_files import do, jump, plan, takeoff, waypoint
from tests.support import until

pytestmark = pytest.mark.integration

SPEEDUP = 25.0
"""Simulated seconds per wall second: a 3-waypoint mission flies in a few seconds."""

ARM_DISARM = 400
DO_SET_MODE = 176


def metres_from_home(driver: DroneDriver) -> float:
    s = driver.state
    north = (s.lat_deg - SIM_HOME[0]) * 111_320.0
    east = (s.lon_deg - SIM_HOME[1]) * 111_320.0 * math.cos(math.radians(SIM_HOME[0]))
    return math.hypot(north, east)


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    async with SimFleet(1, base_port=free_udp_port(), speedup=SPEEDUP) as fleet:
        yield fleet


def make_driver(fleet: SimFleet, **settings: Any) -> DroneDriver:
    driver = load_driver(
        "mavsdk",
        {"connection": fleet.url(0), "connect_timeout_s": 10.0, "landing_timeout_s": 60.0}
        | settings,
    )
    assert isinstance(driver, DroneDriver)
    return driver


@pytest.fixture
async def driver(fleet: SimFleet) -> AsyncIterator[DroneDriver]:
    driver = make_driver(fleet)
    await driver.start()
    try:
        await until(_ready(driver), "the vehicle is ready for preflight", 10)
        yield driver
    finally:
        await driver.close()


def _ready(driver: DroneDriver) -> Any:
    async def probe() -> bool:
        s = driver.state
        return s.connected and s.home_set and s.armable and s.gps_fix >= 3

    return probe


class Recorder:
    """The progress the driver reports, as the executor would write it."""

    def __init__(self) -> None:
        self.events: list[Progress] = []

    async def __call__(self, progress: Progress) -> None:
        self.events.append(progress)

    @property
    def items(self) -> list[int]:
        return [p.item for p in self.events if p.item is not None]

    @property
    def stages(self) -> list[str]:
        stages: list[str] = []
        for p in self.events:
            if p.stage and (not stages or stages[-1] != p.stage):
                stages.append(p.stage)
        return stages


def job(extra: dict[str, str] | None = None, job_id: int = 1) -> JobSpec:
    return JobSpec(plan_id=1, job_id=job_id, extra=extra or {})


def mission_file(tmp_path: Path, content: bytes, name: str = "mission.waypoints") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


async def test_a_mission_flies_every_item_in_order_then_returns_home_landed_and_disarmed(
    driver: DroneDriver, tmp_path: Path
) -> None:
    files = {"mission": mission_file(tmp_path, wpl_mission(3, spacing_m=40))}
    spec = job({"takeoff_alt_m": "12"})
    await driver.prepare(spec, files)
    progress = Recorder()
    await driver.run(spec, progress)
    assert progress.items == [0, 1, 2, 3]
    reached = [p for p in progress.events if p.item is not None]
    assert [(p.current, p.total) for p in reached] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert reached[-1].percent == 100.0
    assert progress.stages == ["takeoff", "mission", "returning", "landed"]
    s = driver.state
    assert s.down_and_safe
    assert metres_from_home(driver) < 3.0


@pytest.fixture
def sample_plan() -> Path:
    """QGroundControl's sample .plan, read in place (never copied into the repository)."""
    sample = Path("/work/shared/missions/qgroundcontrol_sample.plan")
    if not sample.is_file():
        pytest.skip(f"{sample} is absent (the team's shared mission samples)")
    return sample


async def test_the_shared_sample_plan_flies_to_its_end(
    driver: DroneDriver, sample_plan: Path
) -> None:
    sample = sample_plan
    spec = job()
    await driver.prepare(spec, {"mission": sample})
    progress = Recorder()
    await driver.run(spec, progress)
    total = progress.events[-1].total
    assert progress.items == list(range(total))
    assert driver.state.down_and_safe


@pytest.mark.parametrize(
    ("on_finish", "expect_mode", "landed"),
    [("hold", Mode.HOLD, False), ("land", Mode.LAND, True)],
)
async def test_on_finish(
    driver: DroneDriver, tmp_path: Path, on_finish: str, expect_mode: Mode, landed: bool
) -> None:
    files = {"mission": mission_file(tmp_path, wpl_mission(2, spacing_m=60))}
    spec = job({"on_finish": on_finish})
    await driver.prepare(spec, files)
    progress = Recorder()
    await driver.run(spec, progress)
    assert progress.items == [0, 1, 2]
    assert driver.state.mode is expect_mode
    assert driver.state.down_and_safe is landed
    # Not back home: it held or landed where the mission ended (~120 m east).
    assert metres_from_home(driver) > 100


async def test_a_mission_ending_with_rtl_lands_at_home(driver: DroneDriver, tmp_path: Path) -> None:
    files = {"mission": mission_file(tmp_path, wpl_mission(2, rtl=True))}
    spec = job()
    await driver.prepare(spec, files)
    progress = Recorder()
    await driver.run(spec, progress)
    assert progress.items == [0, 1, 2, 3]
    assert driver.state.down_and_safe
    assert metres_from_home(driver) < 3.0


async def start_flight(
    driver: DroneDriver, tmp_path: Path, waypoints: int = 6
) -> tuple[asyncio.Task[None], Recorder]:
    """A long mission flying in the background, once its first waypoint was reached."""
    files = {"mission": mission_file(tmp_path, wpl_mission(waypoints, spacing_m=80))}
    spec = job()
    await driver.prepare(spec, files)
    progress = Recorder()
    task = asyncio.create_task(driver.run(spec, progress))

    async def reached_one() -> bool:
        if task.done():
            task.result()
        return 1 in progress.items

    await until(reached_one, "the vehicle reached the first waypoint", 30)
    return task, progress


async def stop_flight(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancel_then_stop_returns_home_and_lands(driver: DroneDriver, tmp_path: Path) -> None:
    task, progress = await start_flight(driver, tmp_path)
    await stop_flight(task)
    await driver.stop(None)  # the default after a cancel: RTL, acknowledged
    assert driver.state.mode is Mode.RETURN_TO_LAUNCH or driver.state.down_and_safe

    async def home_and_down() -> bool:
        return driver.state.down_and_safe

    await until(home_and_down, "the vehicle landed", 30)
    assert metres_from_home(driver) < 3.0
    assert max(progress.items) < 6  # the mission did not go on


async def test_stop_with_hold_hovers_where_it_is(driver: DroneDriver, tmp_path: Path) -> None:
    task, _ = await start_flight(driver, tmp_path)
    await stop_flight(task)
    await driver.stop("hold")

    async def holding() -> bool:
        return driver.state.mode is Mode.HOLD and driver.state.speed_m_s < 0.5

    await until(holding, "the vehicle hovers", 10)
    assert driver.state.armed
    assert driver.state.height_m > 5


async def test_emergency_stop_brakes_at_once(driver: DroneDriver, tmp_path: Path) -> None:
    task, _ = await start_flight(driver, tmp_path)
    await driver.emergency_stop()
    await stop_flight(task)
    assert driver.state.mode is Mode.HOLD or driver.state.mode_name == "HOLD"
    assert driver.state.armed


async def test_preflight_fails_without_gps(
    fleet: SimFleet, driver: DroneDriver, tmp_path: Path
) -> None:
    fleet.faults[0].set_gps_loss(True)

    async def no_fix() -> bool:
        return driver.state.gps_fix < 3

    await until(no_fix, "the vehicle reports no fix", 10)
    with pytest.raises(DriverError) as failure:
        await driver.prepare(job(), {"mission": mission_file(tmp_path, wpl_mission(2))})
    assert failure.value.code is JobFailure.PREFLIGHT_FAILED
    assert str(failure.value).startswith("gps: fix type")
    assert not driver.state.armed


async def test_preflight_fails_below_the_jobs_battery_minimum(
    fleet: SimFleet, driver: DroneDriver, tmp_path: Path
) -> None:
    fleet.faults[0].set_battery(45.0)

    async def reported() -> bool:
        return driver.state.battery_pct <= 45.0

    await until(reported, "the vehicle reports 45 %", 10)
    files = {"mission": mission_file(tmp_path, wpl_mission(2))}
    with pytest.raises(DriverError) as failure:
        await driver.prepare(job({"min_battery_pct": "60"}), files)
    assert failure.value.code is JobFailure.PREFLIGHT_FAILED
    assert "battery: 45% is below min_battery_pct 60%" in str(failure.value)


async def test_low_battery_failsafe_fails_the_job_after_landing(
    fleet: SimFleet, driver: DroneDriver, tmp_path: Path
) -> None:
    task, progress = await start_flight(driver, tmp_path)
    fleet.faults[0].set_battery(12.0)  # below BAT_LOW_THR: the vehicle returns
    with pytest.raises(DriverError) as failure:
        await task
    assert failure.value.code is JobFailure.LOW_BATTERY
    assert "battery" in str(failure.value).lower()
    assert driver.state.down_and_safe  # failed only once the vehicle was down
    assert "returning" in progress.stages


async def test_a_rejected_command_is_a_clear_error(
    fleet: SimFleet, driver: DroneDriver, tmp_path: Path
) -> None:
    fleet.faults[0].set_rejected(frozenset({ARM_DISARM}))
    with pytest.raises(DriverError) as failure:
        await driver.action("arm", {})
    assert failure.value.code is RpcErrorCode.NOT_ARMABLE
    assert "arm: denied" in str(failure.value)
    # In a job, a refused takeoff fails it with the command named.
    fleet.faults[0].set_rejected(frozenset({mav_cmd.NAV_TAKEOFF}))
    spec = job()
    await driver.prepare(spec, {"mission": mission_file(tmp_path, wpl_mission(2))})
    with pytest.raises(DriverError) as failure:
        await driver.run(spec, Recorder())
    assert failure.value.code is JobFailure.COMMAND_DENIED
    assert "takeoff: denied" in str(failure.value)


async def test_actions_take_off_goto_and_land(driver: DroneDriver) -> None:
    with pytest.raises(DriverError) as failure:
        await driver.action("goto", {"lat": 100.0, "lng": 8.5})
    assert failure.value.code is RpcErrorCode.INVALID_PARAMS
    with pytest.raises(DriverError) as failure:
        await driver.action("flip", {})
    assert failure.value.code is RpcErrorCode.UNSUPPORTED
    await driver.action("takeoff", {"altitude_m": 8.0})

    async def up() -> bool:
        return driver.state.height_m > 7.0

    await until(up, "the vehicle climbed to 8 m", 15)
    target = (SIM_HOME[0] + 0.0003, SIM_HOME[1])  # ~33 m north
    await driver.action("goto", {"lat": target[0], "lng": target[1], "alt": SIM_HOME[2] + 8})

    async def there() -> bool:
        return abs(driver.state.lat_deg - target[0]) < 0.00002

    await until(there, "the vehicle reached the goto point", 20)
    await driver.action("land", {})

    async def down() -> bool:
        return driver.state.down_and_safe

    await until(down, "the vehicle landed", 30)


async def test_a_short_autopilot_link_cut_is_ridden_out(
    fleet: SimFleet, driver: DroneDriver, tmp_path: Path
) -> None:
    task, progress = await start_flight(driver, tmp_path, waypoints=8)
    fleet.faults[0].link_cut = True

    async def silent() -> bool:
        return not driver.state.connected

    await until(silent, "MAVSDK notices the silence", 10)
    assert driver.samples()[0].value.status == "error"  # type: ignore[union-attr]
    fleet.faults[0].link_cut = False
    await task
    assert progress.items == list(range(9))
    assert driver.state.down_and_safe


async def test_a_vehicle_silent_too_long_fails_the_job(fleet: SimFleet, tmp_path: Path) -> None:
    driver = make_driver(fleet, vehicle_timeout_s=2.0)
    await driver.start()
    try:
        await until(_ready(driver), "the vehicle is ready", 10)
        task, _ = await start_flight(driver, tmp_path, waypoints=8)
        fleet.faults[0].link_cut = True
        with pytest.raises(DriverError) as failure:
            await task
        assert failure.value.code is JobFailure.VEHICLE_LOST
        assert "no message from the vehicle" in str(failure.value)
    finally:
        fleet.faults[0].link_cut = False
        await driver.close()


async def test_a_bad_mission_file_fails_with_its_location(
    driver: DroneDriver, tmp_path: Path
) -> None:
    bad = b"QGC WPL 110\n0\t1\t3\t16\t0\t0\t0\t0\tnorth\t8.5\t10\t1\n"
    with pytest.raises(DriverError) as failure:
        await driver.prepare(job(), {"mission": mission_file(tmp_path, bad)})
    assert failure.value.code is JobFailure.INVALID_MISSION
    assert "line 2" in str(failure.value)
    with pytest.raises(DriverError) as failure:
        await driver.prepare(job({"on_finish": "crash"}), {"mission": mission_file(tmp_path, bad)})
    assert failure.value.code is JobFailure.INVALID_JOB
    with pytest.raises(DriverError) as failure:
        await driver.prepare(job(), {})
    assert failure.value.code is JobFailure.INVALID_JOB


def plan_with_fence(
    fence_radius_m: float,
    waypoints_east_m: list[float],
    *,
    polygon_m: list[tuple[float, float]] | None = None,
    waypoints_m: list[tuple[float, float]] | None = None,
) -> bytes:
    """A QGroundControl .plan: takeoff and waypoints east of home, an inclusion circle
    around home, one rally point. ``polygon_m`` (north, east) replaces the circle with an
    inclusion polygon, ``waypoints_m`` (north, east) the waypoints."""
    lat0, lon0, alt0 = SIM_HOME
    metres_per_deg_lon = 111_320.0 * math.cos(math.radians(lat0))

    def latlon(north_m: float, east_m: float) -> list[float]:
        return [lat0 + north_m / 111_320.0, lon0 + east_m / metres_per_deg_lon]

    def item(seq: int, command: int, north_m: float, east_m: float) -> dict[str, Any]:
        return {
            "type": "SimpleItem",
            "autoContinue": True,
            "command": command,
            "doJumpId": seq + 1,
            "frame": 3,
            "params": [0, 0, 0, None, *latlon(north_m, east_m), 15],
        }

    points = waypoints_m or [(0.0, e) for e in waypoints_east_m]
    items = [item(0, 22, 0.0, 0.0)] + [item(i + 1, 16, *p) for i, p in enumerate(points)]
    plan = {
        "fileType": "Plan",
        "groundStation": "QGroundControl",
        "version": 1,
        "mission": {
            "version": 2,
            "firmwareType": 12,
            "vehicleType": 2,
            "cruiseSpeed": 15,
            "hoverSpeed": 5,
            "plannedHomePosition": [lat0, lon0, alt0],
            "items": items,
        },
        "geoFence": {
            "version": 2,
            "polygons": []
            if polygon_m is None
            else [{"inclusion": True, "version": 1, "polygon": [latlon(*p) for p in polygon_m]}],
            "circles": []
            if polygon_m is not None
            else [
                {
                    "inclusion": True,
                    "version": 1,
                    "circle": {"center": [lat0, lon0], "radius": fence_radius_m},
                }
            ],
        },
        "rallyPoints": {"version": 2, "points": [[lat0 + 0.0002, lon0, 20.0]]},
    }
    return json.dumps(plan).encode()


async def test_a_geofence_breach_fails_the_job_geofence_after_the_return(
    tmp_path: Path,
) -> None:
    """The vehicle's own distance limit (``GF_MAX_HOR_DIST``, a parameter the agent does not
    know) ends the flight. PX4 refuses a mission with a waypoint beyond it, and the agent a
    plan whose path leaves its own fence (``test_drone_feasibility.py``), so the limit is
    tightened in flight, as an operator may from a ground station."""
    port = free_udp_port()
    params = {"GF_ACTION": 3, "GF_MAX_HOR_DIST": 150}
    async with SimFleet(1, base_port=port, speedup=SPEEDUP, params=params) as fleet:
        driver = make_driver(fleet)
        await driver.start()
        try:
            await until(_ready(driver), "the vehicle is ready", 10)
            plan = plan_with_fence(2000.0, [100.0, 140.0])
            spec = job()
            await driver.prepare(spec, {"mission": mission_file(tmp_path, plan, "fenced.plan")})
            vehicle = fleet.vehicles[0].snapshot()
            assert (vehicle["fence_items"], vehicle["rally_items"]) == (1, 1)
            progress = Recorder()
            flight = asyncio.create_task(driver.run(spec, progress))

            async def at_the_first_waypoint() -> bool:
                return 1 in progress.items or flight.done()

            await until(at_the_first_waypoint, "the first waypoint, 100 m out", 30)
            fleet.vehicles[0].params.set("GF_MAX_HOR_DIST", 50)
            with pytest.raises(DriverError) as failure:
                await flight
            assert failure.value.code is JobFailure.GEOFENCE
            assert "geofence" in str(failure.value).lower()
            assert progress.items == [0, 1]
            assert driver.state.down_and_safe
            assert metres_from_home(driver) < 3.0
        finally:
            await driver.close()


async def test_jobs_in_a_row_each_report_every_item(driver: DroneDriver, tmp_path: Path) -> None:
    """The second mission's progress starts from its own first item, not from where the
    previous mission ended (the autopilot's mission state is replaced by the upload)."""
    for job_id, waypoints in ((1, 4), (2, 2), (3, 5)):
        spec = job(job_id=job_id)
        path = mission_file(tmp_path, wpl_mission(waypoints, spacing_m=30), f"m{job_id}.txt")
        await driver.prepare(spec, {"mission": path})
        progress = Recorder()
        await driver.run(spec, progress)
        assert progress.items == list(range(waypoints + 1)), job_id
        assert progress.stages == ["takeoff", "mission", "returning", "landed"]


async def test_a_plan_with_a_fence_and_rally_points_flies_to_its_end(
    driver: DroneDriver, tmp_path: Path
) -> None:
    """MAVSDK's mission progress ``total`` turns into the rally upload's count: the flight
    follows its own item count."""
    plan = plan_with_fence(2000.0, [60.0, 120.0])
    spec = job()
    await driver.prepare(spec, {"mission": mission_file(tmp_path, plan, "fenced.plan")})
    progress = Recorder()
    await driver.run(spec, progress)
    assert progress.items == [0, 1, 2]
    assert driver.state.down_and_safe


async def test_a_job_for_a_vehicle_in_the_air_is_refused_before_its_mission_is_uploaded(
    fleet: SimFleet, driver: DroneDriver, tmp_path: Path
) -> None:
    task, _ = await start_flight(driver, tmp_path)
    flying = len(fleet.vehicles[0].mission)
    other = {"mission": mission_file(tmp_path, wpl_mission(2), name="other.waypoints")}
    with pytest.raises(DriverError) as failure:
        await driver.prepare(job(job_id=2), other)
    assert failure.value.code is JobFailure.PREFLIGHT_FAILED
    assert str(failure.value).startswith("landed:")
    assert len(fleet.vehicles[0].mission) == flying, "the mission in flight was not replaced"
    await stop_flight(task)


async def test_an_upload_that_times_out_is_tried_again(
    fleet: SimFleet, driver: DroneDriver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    content = wpl_mission(3)
    files = {"mission": mission_file(tmp_path, content)}
    # Cut now: the preflight still passes (the vehicle was heard a moment ago), the
    # upload's first attempt meets a silent link
    fleet.faults[0].link_cut = True
    prepared = asyncio.create_task(driver.prepare(job(), files))

    async def first_attempt_failed() -> bool:
        if prepared.done():
            prepared.result()
        return "mission upload timed out (attempt 1 of" in caplog.text

    with caplog.at_level(logging.WARNING):
        await until(first_attempt_failed, "the first upload attempt times out", 60)
        fleet.faults[0].link_cut = False
        await prepared
    expected = parse_mission_file(content).mission
    assert [i.command for i in fleet.vehicles[0].mission] == [i.command for i in expected]


JUMPS = [
    takeoff(),
    waypoint(30, 0),
    waypoint(30, 30),
    waypoint(0, 30),
    jump(1, 1),  # 4: items 1-3 again, once
    waypoint(0, 0),
    jump(8, 1),  # 6: skips item 7
    waypoint(60, 60),
    waypoint(10, 10),
    do(mav_cmd.NAV_RETURN_TO_LAUNCH),
]


async def test_a_mission_with_jumps_reports_each_item_flown_once_in_order(
    driver: DroneDriver, tmp_path: Path, fleet: SimFleet
) -> None:
    """A repeated section is in the history once; a DO_JUMP when it is done; an item a
    forward jump skips, never (the vehicle did not go there)."""
    spec = job()
    await driver.prepare(spec, {"mission": mission_file(tmp_path, plan(JUMPS), "jumps.plan")})
    progress = Recorder()
    await driver.run(spec, progress)
    # The vehicle's own current item over the flight, from the simulator's flight log.
    seen = [seq for seq, _ in itertools.groupby(s[1] for s in fleet.logs[0].samples)]
    assert progress.items == [0, 1, 2, 3, 4, 5, 6, 8, 9]
    reached = [p for p in progress.events if p.item is not None]
    assert [p.current for p in reached] == list(range(1, 10))
    assert {p.total for p in reached} == {10}
    assert seen.count(1) == 2, f"the section was flown twice: {seen}"
    assert 7 not in seen
    assert driver.state.down_and_safe


async def test_a_resume_job_flies_the_rest_behind_a_takeoff_and_reports_the_files_numbers(
    driver: DroneDriver, tmp_path: Path, fleet: SimFleet
) -> None:
    items = [
        takeoff(12),
        do(mav_cmd.DO_CHANGE_SPEED, 1, 4, -1),
        do(mav_cmd.DO_SET_CAM_TRIGG_DIST, 5, 0, 1),
        *(waypoint(n, e) for n, e in [(20, 0), (20, 20), (40, 20), (40, 0)]),
        do(mav_cmd.DO_SET_CAM_TRIGG_DIST, 0),
        do(mav_cmd.NAV_RETURN_TO_LAUNCH),
    ]
    spec = job({"resume_from": "5"})
    await driver.prepare(spec, {"mission": mission_file(tmp_path, plan(items), "rest.plan")})
    uploaded = fleet.vehicles[0].mission  # takeoff, speed, trigger, then items 5..8
    assert [i.command for i in uploaded] == [22, 178, 206, 16, 16, 206, 20]
    assert [i.seq for i in uploaded] == list(range(7))
    assert (uploaded[1].param2, uploaded[2].param1) == (4, 5)  # 4 m/s, every 5 m
    progress = Recorder()
    await driver.run(spec, progress)
    assert progress.items == [5, 6, 7, 8]
    reached = [p for p in progress.events if p.item is not None]
    assert [(p.current, p.total) for p in reached] == [(6, 9), (7, 9), (8, 9), (9, 9)]
    assert progress.stages == ["takeoff", "mission", "returning", "landed"]
    assert driver.state.down_and_safe and metres_from_home(driver) < 3.0


async def test_a_resume_the_mission_cannot_keep_is_refused_before_anything_flies(
    driver: DroneDriver, tmp_path: Path, fleet: SimFleet
) -> None:
    spec = job({"resume_from": "2"})  # inside the section items 1..4 repeat
    with pytest.raises(DriverError) as refused:
        await driver.prepare(spec, {"mission": mission_file(tmp_path, plan(JUMPS), "j.plan")})
    assert refused.value.code is JobFailure.INVALID_JOB
    assert "extra.resume_from: the rest would start at item 2, inside" in str(refused.value)
    assert fleet.vehicles[0].snapshot()["mission_items"] == 0


async def fly_until(fleet: SimFleet, spec: JobSpec, files: dict[str, Path], item: int) -> list[int]:
    """A driver flies ``spec`` until ``item`` is reached, then dies (the agent is killed:
    nobody watches the vehicle, which flies on); answers the items it reported."""
    first = make_driver(fleet)
    await first.start()
    try:
        await until(_ready(first), "the vehicle is ready", 10)
        await first.prepare(spec, files)
        progress = Recorder()
        task = asyncio.create_task(first.run(spec, progress))

        async def reached() -> bool:
            if task.done():
                task.result()
            return item in progress.items

        await until(reached, f"item {item} reached", 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await first.close()
    return list(progress.items)


async def come_back(
    fleet: SimFleet, spec: JobSpec, files: dict[str, Path], last_item: int
) -> tuple[Recorder, DroneDriver]:
    """A new driver (the restarted agent) re-attaches to ``spec``, told the last item the
    job reported, and follows it to the end; answers what it reported, and the driver."""
    again = make_driver(fleet)
    await again.start()
    try:
        assert await again.resume(spec, files, last_item)
        rest = Recorder()
        await again.run(spec, rest)
    finally:
        await again.close()
    return rest, again


async def test_re_attached_the_driver_reports_the_items_reached_meanwhile_once(
    fleet: SimFleet, tmp_path: Path
) -> None:
    """An agent gone for a while mid-mission: a new driver, told the last item the job
    reported, reports the items the vehicle reached since (in a repeated section too),
    each once, then the rest."""
    files = {"mission": mission_file(tmp_path, plan(JUMPS), "jumps.plan")}
    spec = job()
    vehicle = fleet.vehicles[0]
    before = await fly_until(fleet, spec, files, 1)

    async def second_pass() -> bool:  # items 2, 3 and the jump back happened meanwhile
        return vehicle.snapshot()["mission_seq"] == 2 and vehicle._jump_counts.get(4) == 1

    await until(second_pass, "the vehicle flies the section again", 30)
    rest, _ = await come_back(fleet, spec, files, before[-1])
    assert before + rest.items == [0, 1, 2, 3, 4, 5, 6, 8, 9]
    assert rest.items[:2] == [2, 3]  # reached while nobody watched, reported first
    assert "takeoff" not in rest.stages


async def test_a_resume_job_re_attached_reports_the_files_numbers_once(
    fleet: SimFleet, tmp_path: Path
) -> None:
    """The rest of a mission, flown across an agent restart: the vehicle's items are not
    the file's, the history still is (the last item reported is a number of the file)."""
    lanes = [waypoint(0, 30 * (i + 1)) for i in range(6)]  # items 2..7, then a return
    items = [
        takeoff(),
        do(mav_cmd.DO_CHANGE_SPEED, 1, 5, -1),
        *lanes,
        do(mav_cmd.NAV_RETURN_TO_LAUNCH),
    ]
    files = {"mission": mission_file(tmp_path, plan(items), "rest.plan")}
    spec = job({"resume_from": "3"})
    vehicle = fleet.vehicles[0]
    before = await fly_until(fleet, spec, files, 3)

    # on the vehicle: takeoff, speed, then the file's items 3..7 as 2..6
    async def flew_on() -> bool:
        return int(vehicle.snapshot()["mission_seq"]) >= 5  # type: ignore[call-overload]

    await until(flew_on, "the vehicle flew on", 30)
    rest, _ = await come_back(fleet, spec, files, before[-1])
    assert before + rest.items == [3, 4, 5, 6, 7, 8]
    assert [p.total for p in rest.events if p.item is not None] == [9] * len(rest.items)


async def test_an_agent_back_after_the_mission_ended_in_the_air_finishes_the_job(
    fleet: SimFleet, tmp_path: Path
) -> None:
    """The vehicle flew its last item (a waypoint: it hovers there) while the agent was
    away, so the agent never gets that item's MISSION_ITEM_REACHED: the autopilot's
    mission state tells it the mission is over; the last items are reported and
    ``on_finish`` brings the vehicle home."""
    items = [takeoff(), waypoint(0, 40), waypoint(0, 80), waypoint(0, 120)]
    files = {"mission": mission_file(tmp_path, plan(items), "short.plan")}
    spec = job()
    vehicle = fleet.vehicles[0]
    before = await fly_until(fleet, spec, files, 1)

    async def mission_ended() -> bool:
        return vehicle.snapshot()["mission_state"] == "COMPLETE"

    await until(mission_ended, "the mission ended", 30)
    rest, again = await come_back(fleet, spec, files, before[-1])
    assert before + rest.items == [0, 1, 2, 3]
    assert rest.stages[-2:] == ["returning", "landed"]
    assert metres_from_home(again) < 3.0


async def test_a_mission_the_vehicle_finds_infeasible_fails_before_take_off(
    fleet: SimFleet, driver: DroneDriver, tmp_path: Path
) -> None:
    """The vehicle requires a landing (PX4's MIS_TKO_LAND_REQ 2, a vehicle parameter the
    agent's own check does not know): it stores the mission, its feasibility check refuses
    it, and the job ends with PX4's words, on the ground."""
    fleet.vehicles[0].params.set("MIS_TKO_LAND_REQ", 2)
    spec = job()
    await driver.prepare(spec, {"mission": mission_file(tmp_path, wpl_mission(2))})
    progress = Recorder()
    with pytest.raises(DriverError) as failure:
        await driver.run(spec, progress)
    assert failure.value.code is JobFailure.INVALID_MISSION
    assert str(failure.value) == (
        "the vehicle refused the mission: Mission rejected: Landing waypoint/pattern required."
    )
    assert progress.items == []
    vehicle = fleet.vehicles[0]
    assert not vehicle.armed and vehicle.landed_state.name == "ON_GROUND"


async def test_a_mission_with_an_item_px4_does_not_take_is_refused_at_upload(
    fleet: SimFleet, driver: DroneDriver, tmp_path: Path
) -> None:
    """A LOITER_TURNS (18) sent straight to the vehicle (the agent's own check refuses it
    before upload): the vehicle answers MAV_MISSION_UNSUPPORTED and keeps no mission."""
    rows = wpl_mission(2).decode().splitlines()
    turns = rows[2].split("\t")
    turns[0], turns[3] = "3", "18"
    content = ("\n".join([*rows, "\t".join(turns)]) + "\n").encode()
    with pytest.raises(DriverError) as refused:
        await driver.prepare(job(), {"mission": mission_file(tmp_path, content)})
    assert "command 18 (NAV_LOITER_TURNS) is not flown by PX4" in str(refused.value)
    with pytest.raises(VehicleCommandError) as failure:
        await driver.vehicle.upload_mission(parse_mission_file(content).mission)
    assert failure.value.outcome is Outcome.INVALID
    detail = str(failure.value)
    assert detail.startswith("upload mission: invalid (UNSUPPORTED"), detail
    assert "command or frame" in detail
    assert fleet.vehicles[0].mission == []


async def test_a_refused_mission_start_carries_what_the_vehicle_said(
    fleet: SimFleet, driver: DroneDriver, tmp_path: Path
) -> None:
    """Mission mode refused after the takeoff (a refusal injected here; on PX4 a verdict
    that came too late to stop the takeoff): the failure quotes the vehicle's texts."""
    fleet.faults[0].set_rejected(frozenset({DO_SET_MODE}))
    spec = job()
    await driver.prepare(spec, {"mission": mission_file(tmp_path, wpl_mission(2))})
    with pytest.raises(DriverError) as failure:
        await driver.run(spec, Recorder())
    assert failure.value.code is JobFailure.COMMAND_DENIED
    assert str(failure.value) == (
        "start mission: denied (DENIED) (Command 176 rejected (fault injected))"
    )
    fleet.faults[0].set_rejected(None)
    await driver.stop("land")
