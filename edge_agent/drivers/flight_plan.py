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

The mission is checked as PX4 would take it (``shared.mission.feasibility``, the limits
of the driver's settings) twice before upload: with the file's home as soon as it is
read (so a job the control plane did not check, from an older control plane or with a
file of its own, fails ``invalid_mission`` naming the item), and once the vehicle is
heard, with the vehicle's real home and the geofence it will fly with (``check_at_vehicle``).

**Takeoff height by frame.** A takeoff item's altitude is a height above home only in a
relative frame (3/6). In an above-sea-level frame (0/5) the height is the altitude less
the home's: the vehicle's home, which is where it climbs from and what PX4 itself
subtracts (a file's planned home may be elsewhere); the file's home only until the
vehicle's is known. When neither is known the job is refused rather than guessing:
taking "100" as 100 m when the author meant 100 m above sea level is the mistake this
avoids. A job's ``takeoff_alt_m`` still wins over the item.

An opted-in endless DO_JUMP (``endless_loops=allow``, repeat -1) is uploaded with PX4's
largest repeat count, 65535: PX4 has no "for ever", and turns -1 into 65535 or 0
depending on its processor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec

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
from shared.mission.feasibility import (
    MAX_REPEAT,
    Home,
    MissionLimits,
    check_feasible,
    is_endless_jump,
    takeoff_height_m,
)
from shared.mission.items import place_takeoffs
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
    uploaded_at: float = 0.0
    """When the mission upload ended (the driver's clock): the vehicle's verdict follows."""
    mission_key: str = MISSION_KEY
    """The ``files`` key of the mission file (named in refusals)."""
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
    job: JobSpec,
    files: Mapping[str, Path],
    default_takeoff_alt_m: float,
    *,
    limits: MissionLimits | None = None,
) -> tuple[Flight, MissionFile]:
    """The flight of ``job``; with ``limits``, the mission it flies checked as PX4 would
    take it (with the file's home; ``check_at_vehicle`` checks again with the vehicle's).
    The takeoff height is the job's ``takeoff_alt_m``, else the mission's takeoff item's
    (by its frame), else ``default_takeoff_alt_m``."""
    try:
        options = parse_job_options(job.extra)
    except JobOptionError as exc:
        raise DriverError(JobFailure.INVALID_JOB, str(exc)) from None
    parsed = read_mission_file(files)
    key = mission_file_key(files) or MISSION_KEY
    if options.endless_loops == "allow":
        parsed = _px4_repeats(parsed)
    home_alt_m = parsed.home[2] if parsed.home is not None else None
    takeoff_alt_m = takeoff_height(parsed, options, home_alt_m) or default_takeoff_alt_m
    if options.resume_from is None:
        flight = Flight(
            job.key, options, len(parsed.mission), takeoff_alt_m, parsed.mission, mission_key=key
        )
    else:
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
            mission_key=key,
        )
    if limits is not None:
        _check(flown(flight, parsed), key, options, limits)
    return flight, parsed


def flown(flight: Flight, parsed: MissionFile) -> MissionFile:
    """The mission the vehicle gets, as a file to check: the file itself, or for a resume
    its rest (a takeoff and settings at the head, then the remaining items, each located
    where it is in the file), so the check sees the legs actually flown (from home to the
    resume point, say)."""
    if flight.originals is None:
        return parsed
    locations = [
        "the resume's head" if seq is None else parsed.locations[seq] for seq in flight.originals
    ]
    return msgspec.structs.replace(parsed, mission=flight.mission, locations=locations)


def check_at_vehicle(
    flight: Flight,
    parsed: MissionFile,
    limits: MissionLimits,
    home: Home,
    fence: Sequence[MissionItem],
    default_takeoff_alt_m: float,
) -> None:
    """Check the mission again with the vehicle's ``home`` and the ``fence`` it holds
    (the file's own fence wins), and settle the takeoff height with the vehicle's home;
    ``DriverError`` (``invalid_mission``) naming the item when PX4 would refuse it."""
    if math.isfinite(home[0]) and math.isfinite(home[1]):
        # A takeoff the file left at 0, 0 climbs where the vehicle stands: PX4 needs it
        # placed (``is_unplaced_takeoff``).
        flight.mission = place_takeoffs(flight.mission, home[0], home[1])
        parsed = msgspec.structs.replace(
            parsed, mission=place_takeoffs(parsed.mission, home[0], home[1])
        )
    _check(
        flown(flight, parsed), flight.mission_key, flight.options, limits, home=home, fence=fence
    )
    takeoff = takeoff_item(parsed)
    home_alt_m = home[2] if math.isfinite(home[2]) else None
    if home_alt_m is None and parsed.home is not None:
        home_alt_m = parsed.home[2]
    height = takeoff_height(parsed, flight.options, home_alt_m)
    if height is None and takeoff is not None:
        raise DriverError(
            JobFailure.INVALID_MISSION,
            f"file {flight.mission_key!r}: {parsed.where(takeoff.seq)}: the takeoff altitude "
            f"{takeoff.z:g} m is above sea level and the vehicle reports no home altitude to "
            "take it from: give the takeoff a relative altitude (frame 3), or the job a "
            "takeoff_alt_m",
        )
    flight.takeoff_alt_m = height or default_takeoff_alt_m


def takeoff_item(parsed: MissionFile) -> MissionItem | None:
    return next((i for i in parsed.mission if i.command == mav_cmd.NAV_TAKEOFF), None)


def takeoff_height(
    parsed: MissionFile, options: JobOptions, home_alt_m: float | None
) -> float | None:
    """The job's ``takeoff_alt_m``, else the takeoff item's height above a home at
    ``home_alt_m`` (None: above sea level with no home known); None when the mission has
    no takeoff item or it is not above home (the driver's default then)."""
    if options.takeoff_alt_m is not None:
        return options.takeoff_alt_m
    takeoff = takeoff_item(parsed)
    if takeoff is None:
        return None
    height = takeoff_height_m(takeoff, home_alt_m)
    if height is None:
        return None
    return height if height > 0 else None


def _check(
    parsed: MissionFile,
    key: str,
    options: JobOptions,
    limits: MissionLimits,
    *,
    home: Home | None = None,
    fence: Sequence[MissionItem] = (),
) -> None:
    try:
        check_feasible(
            parsed,
            limits,
            home=home,
            fence=fence,
            fence_source="the vehicle's geofence",
            endless_loops=options.endless_loops == "allow",
        )
    except MissionFileError as exc:
        raise DriverError(
            JobFailure.INVALID_MISSION, f"file {key!r}: {exc.location}: {exc.message}"
        ) from None


def _px4_repeats(parsed: MissionFile) -> MissionFile:
    """The mission with each endless DO_JUMP given PX4's largest repeat count."""
    if not any(is_endless_jump(i) for i in parsed.mission):
        return parsed
    items = [
        msgspec.structs.replace(i, param2=float(MAX_REPEAT)) if is_endless_jump(i) else i
        for i in parsed.mission
    ]
    return msgspec.structs.replace(parsed, mission=items)
