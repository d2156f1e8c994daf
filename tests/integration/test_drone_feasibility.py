"""The drone driver refuses before upload what PX4 would refuse, against the simulator.

A job may reach the agent unchecked (an older control plane, a file of the job's own), and
the control plane knows neither the vehicle's real home nor the geofence the vehicle holds:
the driver checks at ``prepare``, once with the file and once with the vehicle's home and
fence. A refusal is ``invalid_mission`` naming the file's item, with nothing uploaded.
Real MAVSDK, real UDP, the simulator sped up.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge_agent.drivers import DriverError
from edge_agent.drivers.drone import DroneDriver
from edge_agent.drivers.vehicle import Mode
from shared import mav_cmd
from shared.errors import JobFailure
from shared.mission import MissionItem
from simulator.fleet import SimFleet
from tests.integration.agent_harness import SIM_HOME, free_udp_port
from tests.integration.test_drone_driver import (
    Recorder,
    _ready,
    job,
    make_driver,
    mission_file,
    plan_with_fence,
)
from tests.support import until

pytestmark = pytest.mark.integration

SPEEDUP = 25.0
OWN = Path(__file__).resolve().parents[1] / "missions"
M_PER_DEG_LAT = 111_195.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(SIM_HOME[0]))


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    async with SimFleet(1, base_port=free_udp_port(), speedup=SPEEDUP) as fleet:
        yield fleet


@pytest.fixture
async def driver(fleet: SimFleet) -> AsyncIterator[DroneDriver]:
    driver = make_driver(fleet)
    await driver.start()
    try:
        await until(_ready(driver), "the vehicle is ready for preflight", 10)
        yield driver
    finally:
        await driver.close()


def at(north_m: float, east_m: float) -> tuple[float, float]:
    return (SIM_HOME[0] + north_m / M_PER_DEG_LAT, SIM_HOME[1] + east_m / M_PER_DEG_LON)


def wpl(*rows: tuple[int, int, float, float, float], home_alt_m: float | None = None) -> bytes:
    """A WPL file of rows ``(frame, command, north m, east m, altitude)`` after a home row:
    at the vehicle's place (at ``home_alt_m``) when given, else at 0, 0 (no home)."""
    lines = ["QGC WPL 110"]
    if home_alt_m is not None:
        lines.append(f"0\t1\t0\t16\t0\t0\t0\t0\t{SIM_HOME[0]}\t{SIM_HOME[1]}\t{home_alt_m}\t1")
    else:
        lines.append("0\t1\t0\t16\t0\t0\t0\t0\t0\t0\t0\t1")
    for frame, command, north, east, alt in rows:
        lat, lon = at(north, east) if frame != 2 else (0.0, 0.0)
        lines.append(
            f"{len(lines) - 1}\t0\t{frame}\t{command}\t0\t0\t0\t0\t{lat:.7f}\t{lon:.7f}\t{alt}\t1"
        )
    return ("\n".join(lines) + "\n").encode()


async def refused(driver: DroneDriver, fleet: SimFleet, path: Path, extra: dict[str, str]) -> str:
    """``prepare`` fails ``invalid_mission`` with nothing uploaded; answers the detail."""
    with pytest.raises(DriverError) as failure:
        await driver.prepare(job(extra), {"mission": path})
    assert failure.value.code is JobFailure.INVALID_MISSION, failure.value
    vehicle = fleet.vehicles[0].snapshot()
    assert (vehicle["mission_items"], vehicle["armed"]) == (0, False), "nothing was uploaded"
    return str(failure.value)


async def test_a_file_px4_refuses_is_refused_before_upload(
    driver: DroneDriver, fleet: SimFleet, tmp_path: Path
) -> None:
    own = tmp_path / "field.waypoints"
    own.write_bytes((OWN / "px4_ardupilot_commands.waypoints").read_bytes())
    detail = await refused(driver, fleet, own, {})
    assert detail.startswith("file 'mission': line 5 (item 2): command 18 (NAV_LOITER_TURNS)")
    loop = mission_file(tmp_path, (OWN / "px4_endless_loop.waypoints").read_bytes())
    detail = await refused(driver, fleet, loop, {})
    assert "line 7 (item 4): DO_JUMP repeat -1 loops for ever" in detail


async def test_a_plan_crossing_its_own_fence_is_refused_before_upload(
    driver: DroneDriver, fleet: SimFleet, tmp_path: Path
) -> None:
    plan = mission_file(tmp_path, plan_with_fence(150.0, [100.0, 300.0]), "fenced.plan")
    detail = await refused(driver, fleet, plan, {})
    assert detail.startswith(
        "file 'mission': mission.items[2] (item 2): the straight leg from item 1 to item 2 "
        "leaves inclusion circle 1 of the plan's geofence"
    )


async def test_the_geofence_the_vehicle_holds_is_checked(
    driver: DroneDriver, fleet: SimFleet, tmp_path: Path
) -> None:
    """The node's geofence: set on the vehicle before (here by an upload of its own), read
    back from it at prepare when the job's file has none."""
    lat, lon = at(50, 0)
    zone = MissionItem(
        seq=0, frame=0, command=mav_cmd.NAV_FENCE_CIRCLE_EXCLUSION, current=0, autocontinue=0,
        param1=20.0, param2=0, param3=0, param4=0, x=round(lat * 1e7), y=round(lon * 1e7),
        z=0, mission_type=1,
    )  # fmt: skip
    await driver.vehicle.upload_geofence([zone])
    assert fleet.vehicles[0].snapshot()["fence_items"] == 1
    across = wpl((3, mav_cmd.NAV_TAKEOFF, 0, 0, 15), (3, mav_cmd.NAV_WAYPOINT, 100, 0, 15))
    detail = await refused(driver, fleet, mission_file(tmp_path, across), {})
    assert detail.startswith(
        "file 'mission': line 4 (item 1): the straight leg from item 0 to item 1 enters "
        "exclusion circle 1 of the vehicle's geofence"
    )
    around = wpl((3, mav_cmd.NAV_TAKEOFF, 0, 0, 15), (3, mav_cmd.NAV_WAYPOINT, 0, 100, 15))
    await driver.prepare(job(), {"mission": mission_file(tmp_path, around)})
    assert fleet.vehicles[0].snapshot()["mission_items"] == 2


async def test_the_vehicles_home_decides_distance_and_takeoff_height(
    driver: DroneDriver, fleet: SimFleet, tmp_path: Path
) -> None:
    # No home in the file: the control plane could not tell the first waypoint is 12 km away.
    far = wpl((3, mav_cmd.NAV_TAKEOFF, 12_000, 0, 15), (3, mav_cmd.NAV_WAYPOINT, 12_100, 0, 15))
    detail = await refused(driver, fleet, mission_file(tmp_path, far), {})
    assert "line 3 (item 0): the first waypoint is 12,000 m from home" in detail
    # A takeoff above sea level: 25 m above the vehicle's home (488 m), though the file's
    # home says 400 m (which would make it 113 m).
    amsl = wpl(
        (0, mav_cmd.NAV_TAKEOFF, 0, 0, SIM_HOME[2] + 25),
        (3, mav_cmd.NAV_WAYPOINT, 40, 0, 25),
        home_alt_m=400.0,
    )
    spec = job()
    await driver.prepare(spec, {"mission": mission_file(tmp_path, amsl)})
    progress = Recorder()
    await driver.run(spec, progress)
    assert progress.items == [0, 1]
    assert fleet.vehicles[0].params["MIS_TAKEOFF_ALT"] == pytest.approx(25.0, abs=0.01)
    # Below the vehicle's home is refused, whatever the file's home says.
    low = wpl(
        (0, mav_cmd.NAV_TAKEOFF, 0, 0, SIM_HOME[2] - 10),
        (3, mav_cmd.NAV_WAYPOINT, 40, 0, 25),
        home_alt_m=400.0,
    )
    await until(_ready(driver), "the vehicle is ready again", 30)
    with pytest.raises(DriverError) as failure:
        await driver.prepare(job(job_id=2), {"mission": mission_file(tmp_path, low)})
    assert failure.value.code is JobFailure.INVALID_MISSION
    assert "line 3 (item 0): takeoff altitude 478 m above sea level is not above home" in str(
        failure.value
    )


async def test_an_opted_in_endless_loop_flies_until_it_is_cancelled(
    driver: DroneDriver, fleet: SimFleet, tmp_path: Path
) -> None:
    """The agent does not take a mission that keeps going for stuck: it loops, lap after
    lap, until the operator's stop, which ends it at once (RTL)."""
    loop = wpl(
        (3, mav_cmd.NAV_TAKEOFF, 0, 0, 15),
        (3, mav_cmd.NAV_WAYPOINT, 30, 0, 15),
        (3, mav_cmd.NAV_WAYPOINT, 30, 30, 15),
        (2, mav_cmd.DO_JUMP, 0, 0, 0),
    ).replace(b"\t177\t0\t0\t", b"\t177\t1\t-1\t")
    spec = job({"endless_loops": "allow"})
    await driver.prepare(spec, {"mission": mission_file(tmp_path, loop)})
    uploaded = fleet.vehicles[0].mission[3]
    assert (uploaded.command, uploaded.param2) == (mav_cmd.DO_JUMP, 65535.0)
    task = asyncio.create_task(driver.run(spec, Recorder()))
    vehicle = fleet.vehicles[0]
    laps = 0
    last = -1

    async def looped_twice() -> bool:
        nonlocal laps, last
        assert not task.done(), task
        if vehicle.mission_seq < last:  # back to the loop's start
            laps += 1
        last = vehicle.mission_seq
        return laps >= 2

    await until(looped_twice, "the vehicle flew the loop twice", 60)
    await driver.stop(None)  # what the executor does on a cancel, before it ends the run
    assert driver.state.mode is Mode.RETURN_TO_LAUNCH
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
