"""A job's flight as planned from its files and ``extra``, before any command is sent.

The mission file (``files`` key ``mission``, else ``waypoint``, DESIGN §6) is parsed with
``shared.mission`` (the same checks the control plane ran at plan create), the options
are typed, and what the flight logic needs to follow the mission is kept: the items to
upload, each one's command (an RTL or land item changes the autopilot's mode without it
being a failsafe), the takeoff height, and a walk of the mission (``MissionWalk``) that
turns the vehicle's current item into the items reached.

A job with ``extra.resume_from`` flies the rest of the file from that item
(``shared.mission.resume``): the vehicle gets a takeoff, the settings the items before
it made, and the remaining items; the walk numbers them as the file does, so the job's
history reports the file's item numbers and total.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    MissionItem,
    mission_file_key,
    parse_mission_file,
)
from shared.mission.resume import ResumeError, resume_mission
from shared.mission.walk import MissionWalk


@dataclass
class Flight:
    """The job the vehicle is prepared for or flying, and how far it got."""

    key: str
    options: JobOptions
    total: int
    """Items of the mission file (what progress counts)."""
    takeoff_alt_m: float
    """Takeoff height above home, metres."""
    mission: list[MissionItem]
    """What the vehicle gets: the file's items, or for a resume the rest of them."""
    originals: list[int | None] | None = None
    """For a resume, each uploaded item's number in the file (None: added at the head)."""
    done_before: int = 0
    """Items counted done before this job started (a resume's first item)."""
    phase: Literal["start", "mission", "finish", "done"] = "start"
    mission_started: bool = False
    """The vehicle was seen flying the mission (set on re-attach: the mission mode may
    be gone already, after a failsafe while the agent was away)."""
    warnings_at: int = 0
    """The vehicle's warning count when the mission started (failsafe texts follow)."""
    walk: MissionWalk = field(init=False)
    """Which items the vehicle reached, from its current item."""
    commands: tuple[int, ...] = field(init=False)
    """MAV_CMD of each item on the vehicle."""

    def __post_init__(self) -> None:
        self.walk = MissionWalk(self.mission, self.originals)
        self.commands = tuple(item.command for item in self.mission)

    @property
    def uploaded(self) -> int:
        """Items on the vehicle."""
        return len(self.mission)

    @property
    def current(self) -> int:
        """Items of the file done: those before a resume's first, and those reached."""
        return self.done_before + len(self.walk.reached)


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
    takeoff_alt_m = takeoff_alt_m or default_takeoff_alt_m
    if options.resume_from is None:
        flight = Flight(job.key, options, len(parsed.mission), takeoff_alt_m, parsed.mission)
        return flight, parsed
    try:
        rest = resume_mission(
            parsed.mission, options.resume_from, home=parsed.home, takeoff_alt_m=takeoff_alt_m
        )
    except ResumeError as exc:
        raise DriverError(JobFailure.INVALID_JOB, f"extra.resume_from: {exc}") from None
    flight = Flight(
        job.key,
        options,
        rest.total,
        takeoff_alt_m,
        rest.items,
        originals=rest.originals,
        done_before=rest.resume_from,
    )
    return flight, parsed
