"""A job's flight as planned from its files and ``extra``, before any command is sent.

The mission file (``files`` key ``mission``, else ``waypoint``, DESIGN §6) is parsed with
``shared.mission`` (the same checks the control plane ran at plan create), the options
are typed, and what the flight logic needs to follow the mission is kept: the item
count, each item's command (an RTL or land item changes the autopilot's mode without
it being a failsafe) and the takeoff height.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge_agent.drivers.base import DriverError
from shared import mav_cmd
from shared.errors import JobFailure
from shared.job_options import JobOptionError, JobOptions, parse_job_options
from shared.messages import JobSpec
from shared.mission import (
    MISSION_KEY,
    MissionFile,
    MissionFileError,
    mission_file_key,
    parse_mission_file,
)


@dataclass
class Flight:
    """The job the vehicle is prepared for or flying, and how far it got."""

    key: str
    options: JobOptions
    total: int
    """Mission items."""
    takeoff_alt_m: float
    """Takeoff height above home, metres."""
    commands: tuple[int, ...]
    """MAV_CMD of each mission item."""
    phase: Literal["start", "mission", "finish", "done"] = "start"
    mission_started: bool = False
    """The vehicle was seen flying the mission (set on re-attach: the mission mode may
    be gone already, after a failsafe while the agent was away)."""
    warnings_at: int = 0
    """The vehicle's warning count when the mission started (failsafe texts follow)."""
    reached: int = 0
    """Items reached so far (items 0..reached-1)."""


def read_mission_file(files: Mapping[str, Path]) -> MissionFile:
    """The job's mission file, parsed; ``DriverError`` saying which file and where."""
    key = mission_file_key(files)
    if key is None:
        raise DriverError(
            JobFailure.INVALID_JOB, f"the job has no mission file (files key {MISSION_KEY!r})"
        )
    try:
        data = files[key].read_bytes()
    except OSError as exc:
        raise DriverError(JobFailure.INVALID_JOB, f"file {key!r}: {exc.strerror}") from None
    try:
        parsed = parse_mission_file(data, filename=files[key].name)
    except MissionFileError as exc:
        raise DriverError(
            JobFailure.INVALID_MISSION, f"file {key!r}: {exc.location}: {exc.message}"
        ) from None
    if not parsed.mission:
        raise DriverError(JobFailure.INVALID_MISSION, f"file {key!r} has no mission items")
    return parsed


def plan_flight(
    job: JobSpec, files: Mapping[str, Path], default_takeoff_alt_m: float
) -> tuple[Flight, MissionFile]:
    """The flight of ``job``; the takeoff height is the job's ``takeoff_alt_m``, else the
    mission's takeoff item's, else ``default_takeoff_alt_m``."""
    try:
        options = parse_job_options(job.extra)
    except JobOptionError as exc:
        raise DriverError(JobFailure.INVALID_JOB, str(exc)) from None
    parsed = read_mission_file(files)
    takeoff = next((i for i in parsed.mission if i.command == mav_cmd.NAV_TAKEOFF), None)
    takeoff_alt_m = options.takeoff_alt_m
    if takeoff_alt_m is None and takeoff is not None and takeoff.z > 0:
        takeoff_alt_m = float(takeoff.z)
    flight = Flight(
        key=job.key,
        options=options,
        total=len(parsed.mission),
        takeoff_alt_m=takeoff_alt_m or default_takeoff_alt_m,
        commands=tuple(item.command for item in parsed.mission),
    )
    return flight, parsed
