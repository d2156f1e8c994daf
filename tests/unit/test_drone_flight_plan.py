"""A job's flight planned from its files: which file, the takeoff height, the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.drivers.base import DriverError
from edge_agent.drivers.flight_plan import plan_flight
from shared.errors import JobFailure
from shared.messages import JobSpec
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
