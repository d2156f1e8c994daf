"""A job's flight planned from its files: which file, the takeoff height, the errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from edge_agent.drivers.base import DriverError
from edge_agent.drivers.flight_plan import check_at_vehicle, plan_flight
from shared.errors import JobFailure
from shared.messages import JobSpec
from shared.mission.feasibility import MissionLimits
from tests.integration.agent_harness import wpl_mission


def write(tmp_path: Path, content: bytes, name: str = "m.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_the_takeoff_height_comes_from_the_job_then_the_mission_then_the_default(
    tmp_path: Path,
) -> None:
    files = {"waypoint": write(tmp_path, wpl_mission(2, height_m=25.0, rtl=True))}
    flight, parsed = plan_flight(JobSpec(plan_id=1, job_id=2), files, 10.0)
    assert (flight.key, flight.total, flight.takeoff_alt_m) == ("1/2", 4, 25.0)
    assert flight.commands == (22, 16, 16, 20)
    assert len(parsed.mission) == 4
    job = JobSpec(plan_id=1, job_id=2, extra={"takeoff_alt_m": "7"})
    assert plan_flight(job, files, 10.0)[0].takeoff_alt_m == 7.0
    home = b"0\t1\t0\t16\t0\t0\t0\t0\t47.39\t8.54\t488\t1\n"
    no_takeoff = b"QGC WPL 110\n" + home + b"1\t0\t3\t16\t0\t0\t0\t0\t47.39\t8.54\t12\t1\n"
    files = {"mission": write(tmp_path, no_takeoff)}
    assert plan_flight(JobSpec(plan_id=1, job_id=2), files, 10.0)[0].takeoff_alt_m == 10.0


@pytest.mark.parametrize(
    ("content", "reason", "fragment"),
    [
        (b"", JobFailure.INVALID_MISSION, "file 'mission': "),
        (b"\xff\xfe not text", JobFailure.INVALID_MISSION, "file 'mission': "),
        (b'{"fileType": "Plan"}', JobFailure.INVALID_MISSION, "file 'mission': "),
        (b"QGC WPL 110\n", JobFailure.INVALID_MISSION, "no mission items"),
    ],
)
def test_a_file_that_is_no_mission_is_refused_saying_where(
    tmp_path: Path, content: bytes, reason: JobFailure, fragment: str
) -> None:
    with pytest.raises(DriverError) as refused:
        plan_flight(JobSpec(plan_id=1, job_id=1), {"mission": write(tmp_path, content)}, 10.0)
    assert refused.value.code is reason
    assert fragment in str(refused.value)


def test_a_job_without_a_mission_file_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(DriverError) as refused:
        plan_flight(JobSpec(plan_id=1, job_id=1), {"photo": write(tmp_path, b"x")}, 10.0)
    assert refused.value.code is JobFailure.INVALID_JOB
    assert "no mission file" in str(refused.value)


def test_the_mission_key_is_preferred_to_waypoint(tmp_path: Path) -> None:
    """A job carrying both keys flies ``mission``, the file the control plane checked first."""
    files = {
        "waypoint": write(tmp_path, wpl_mission(1, height_m=25.0), "w.txt"),
        "mission": write(tmp_path, wpl_mission(3, height_m=40.0), "m.txt"),
    }
    flight, _ = plan_flight(JobSpec(plan_id=1, job_id=1), files, 10.0)
    assert (flight.total, flight.takeoff_alt_m) == (4, 40.0)


def amsl_takeoff(home_alt_m: float | None, takeoff_alt_m: float, frame: int = 0) -> bytes:
    """A takeoff in ``frame`` (0: above sea level), a waypoint; a home row at 0, 0 (no
    home) unless ``home_alt_m`` is given."""
    rows = ["QGC WPL 110"]
    if home_alt_m is not None:
        rows.append(f"0\t1\t0\t16\t0\t0\t0\t0\t47.39\t8.54\t{home_alt_m}\t1")
    else:
        rows.append("0\t1\t0\t16\t0\t0\t0\t0\t0\t0\t0\t1")
    n = len(rows) - 1
    rows.append(f"{n}\t0\t{frame}\t22\t0\t0\t0\t0\t47.39\t8.54\t{takeoff_alt_m}\t1")
    rows.append(f"{n + 1}\t0\t3\t16\t0\t0\t0\t0\t47.3905\t8.54\t25\t1")
    return ("\n".join(rows) + "\n").encode()


def test_the_takeoff_height_follows_the_takeoff_items_frame(tmp_path: Path) -> None:
    """100 m above sea level at a 584 m site is no "take off to 100 m"."""
    spec = JobSpec(plan_id=1, job_id=1)
    relative = {"mission": write(tmp_path, amsl_takeoff(584.0, 30.0, frame=3))}
    assert plan_flight(spec, relative, 10.0)[0].takeoff_alt_m == 30.0
    # Above sea level: less the home's altitude (the file's until the vehicle's is known).
    files = {"mission": write(tmp_path, amsl_takeoff(584.0, 614.0))}
    flight, parsed = plan_flight(spec, files, 10.0, limits=MissionLimits())
    assert flight.takeoff_alt_m == 30.0
    check_at_vehicle(flight, parsed, MissionLimits(), (47.39, 8.54, 594.0), [], 10.0)
    assert flight.takeoff_alt_m == 20.0, "the vehicle's home is where it climbs from"
    # No home in the file: provisional until the vehicle's home; refused without one.
    files = {"mission": write(tmp_path, amsl_takeoff(None, 614.0))}
    flight, parsed = plan_flight(spec, files, 10.0, limits=MissionLimits())
    check_at_vehicle(flight, parsed, MissionLimits(), (47.39, 8.54, 584.0), [], 10.0)
    assert flight.takeoff_alt_m == 30.0
    with pytest.raises(DriverError) as refused:
        check_at_vehicle(flight, parsed, MissionLimits(), (47.39, 8.54, math.nan), [], 10.0)
    assert refused.value.code is JobFailure.INVALID_MISSION
    assert "line 3 (item 0): the takeoff altitude 614 m is above sea level and the vehicle" in (
        str(refused.value)
    )
    # The job's takeoff_alt_m still wins.
    job = JobSpec(plan_id=1, job_id=1, extra={"takeoff_alt_m": "12"})
    flight, parsed = plan_flight(job, files, 10.0, limits=MissionLimits())
    check_at_vehicle(flight, parsed, MissionLimits(), (47.39, 8.54, math.nan), [], 10.0)
    assert flight.takeoff_alt_m == 12.0


def test_a_mission_px4_refuses_is_an_invalid_mission_naming_the_item(tmp_path: Path) -> None:
    below = {"mission": write(tmp_path, amsl_takeoff(584.0, 100.0))}
    spec = JobSpec(plan_id=1, job_id=1)
    assert plan_flight(spec, below, 10.0)[0].takeoff_alt_m == 10.0, "unchecked: the default"
    with pytest.raises(DriverError) as refused:
        plan_flight(spec, below, 10.0, limits=MissionLimits())
    assert refused.value.code is JobFailure.INVALID_MISSION
    assert str(refused.value).startswith(
        "file 'mission': line 3 (item 0): takeoff altitude 100 m above sea level is not above "
        "home (484 m below the home's 584 m)"
    )


def test_an_opted_in_endless_loop_is_uploaded_with_px4s_largest_count(tmp_path: Path) -> None:
    loop = amsl_takeoff(584.0, 30.0, frame=3) + b"3\t0\t2\t177\t2\t-1\t0\t0\t0\t0\t0\t1\n"
    files = {"mission": write(tmp_path, loop)}
    with pytest.raises(DriverError, match="DO_JUMP repeat -1 loops for ever"):
        plan_flight(JobSpec(plan_id=1, job_id=1), files, 10.0, limits=MissionLimits())
    job = JobSpec(plan_id=1, job_id=1, extra={"endless_loops": "allow"})
    _, parsed = plan_flight(job, files, 10.0, limits=MissionLimits())
    jump = parsed.mission[2]
    assert (jump.command, jump.param1, jump.param2) == (177, 1.0, 65535.0)


def test_a_takeoff_left_at_0_0_is_placed_at_the_vehicles_home(tmp_path: Path) -> None:
    """No home in the file: the agent places the takeoff where the vehicle stands before
    upload, and checks the first waypoint's distance from there."""
    content = (
        b"QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t0\t0\t0\t1\n"
        b"1\t0\t3\t22\t0\t0\t0\t0\t0\t0\t20\t1\n"
        b"2\t0\t3\t16\t0\t0\t0\t0\t47.3905\t8.54\t25\t1\n"
    )
    spec = JobSpec(plan_id=1, job_id=1)
    flight, parsed = plan_flight(spec, {"mission": write(tmp_path, content)}, 10.0)
    check_at_vehicle(flight, parsed, MissionLimits(), (47.39, 8.54, 500.0), [], 10.0)
    assert (flight.mission[0].x, flight.mission[0].y) == (473900000, 85400000)
    assert flight.mission[1] == parsed.mission[1]
