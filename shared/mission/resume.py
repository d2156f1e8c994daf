"""The rest of an interrupted mission, as a mission a vehicle can fly from the ground.

A job that ended early (a low-battery return, a link-loss action, a cancel) reached
some of its mission's items. Its resume flies the others: ``resume_point`` says where
the rest starts (the item the vehicle would have flown next), and ``resume_mission``
builds what the vehicle gets:

1. a takeoff: the mission's own takeoff item when it had one before the resume point
   (its place and height, as the author set them), else one at the file's home;
2. the settings the mission had made before the resume point, in the order it made
   them, so the rest flies as it would have (the camera triggers where the first part
   left off, at the same speed). For each family below, the last item before the resume
   point is re-applied:

   ============================  =====================================================
   speed                         DO_CHANGE_SPEED (the last of each speed type)
   camera trigger by distance    DO_SET_CAM_TRIGG_DIST
   camera trigger by time        DO_SET_CAM_TRIGG_INTERVAL
   gimbal                        DO_MOUNT_CONTROL; DO_GIMBAL_MANAGER_PITCHYAW
   region of interest            DO_SET_ROI, DO_SET_ROI_LOCATION, DO_SET_ROI_WPNEXT_OFFSET,
                                 DO_SET_ROI_NONE (one family: the last one wins)
   photo series, video           IMAGE_START/STOP_CAPTURE, VIDEO_START/STOP_CAPTURE: the
                                 last one, when it starts a series without end (a stop,
                                 a single photo or a counted burst is not repeated)
   ============================  =====================================================

3. the remaining items, from the resume point to the end, with DO_JUMP targets moved
   to the items' new places.

"Before the resume point" is file order: a setting a forward DO_JUMP skipped is
re-applied too (rare; the walk of ``shared.mission.walk`` would say, but a resume point
given by hand may not be on it).

**DO_JUMP.** A jump among the remaining items to a remaining item is kept (renumbered),
its repeats counted afresh, as they would have been. A jump among the remaining items
back to an item before the resume point means the job stopped inside a repeated
section: how many repeats were left is not known, and keeping the jump would fly items
of the first part again, so such a resume is refused, saying which section; resuming
from the section's first item (``extra.resume_from``) flies it whole again. QGroundControl
refuses to resume any mission holding a DO_JUMP; this keeps the ones it can.

The originals of the items (their numbers in the file) go with the mission, so the
job's history reports the file's numbers and two jobs' histories together list every
item once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from shared import mav_cmd
from shared.mission.items import FRAME_GLOBAL_RELATIVE_ALT, MissionItem
from shared.mission.walk import MissionWalk, jump_of


class ResumeError(ValueError):
    """A mission that cannot be resumed from that item; the message says why."""


@dataclass(frozen=True)
class ResumedMission:
    """What the vehicle flies for a resume, and where each item came from."""

    items: list[MissionItem]
    """The mission to upload (seq 0..n-1)."""
    originals: list[int | None]
    """For each item, its number in the file; None for the takeoff and settings added at
    the head (their originals were reached by the interrupted job)."""
    resume_from: int
    """The file's item the rest starts with."""
    total: int
    """Items of the file."""

    restored: list[int]
    """The file's numbers of the settings re-applied at the head, in order."""

    @property
    def head(self) -> int:
        """How many items come before the first remaining one."""
        return len(self.items) - (self.total - self.resume_from)


def _is_start(item: MissionItem) -> bool:
    if item.command == mav_cmd.IMAGE_START_CAPTURE:
        return item.param3 == 0  # param3: photos to take, 0 for a series without end
    return item.command == mav_cmd.VIDEO_START_CAPTURE


_FAMILIES: dict[str, frozenset[int]] = {
    "trigger distance": frozenset({mav_cmd.DO_SET_CAM_TRIGG_DIST}),
    "trigger interval": frozenset({mav_cmd.DO_SET_CAM_TRIGG_INTERVAL}),
    "mount": frozenset({mav_cmd.DO_MOUNT_CONTROL}),
    "gimbal": frozenset({mav_cmd.DO_GIMBAL_MANAGER_PITCHYAW}),
    "roi": frozenset(
        {
            mav_cmd.DO_SET_ROI,
            mav_cmd.DO_SET_ROI_LOCATION,
            mav_cmd.DO_SET_ROI_WPNEXT_OFFSET,
            mav_cmd.DO_SET_ROI_NONE,
        }
    ),
    "photos": frozenset({mav_cmd.IMAGE_START_CAPTURE, mav_cmd.IMAGE_STOP_CAPTURE}),
    "video": frozenset({mav_cmd.VIDEO_START_CAPTURE, mav_cmd.VIDEO_STOP_CAPTURE}),
}
_FAMILY = {command: name for name, commands in _FAMILIES.items() for command in commands}
_FAMILY[mav_cmd.DO_CHANGE_SPEED] = "speed"
_KEPT_IF: dict[str, Callable[[MissionItem], bool]] = {"photos": _is_start, "video": _is_start}


def _family(item: MissionItem) -> str | None:
    name = _FAMILY.get(item.command)
    if name == "speed":
        return f"speed {item.param1:g}"  # param1: airspeed, ground speed, climb, descent
    return name


def settings_before(mission: Sequence[MissionItem], resume_from: int) -> list[MissionItem]:
    """The last setting of each family before ``resume_from``, in file order."""
    last: dict[str, MissionItem] = {}
    for item in mission[:resume_from]:
        family = _family(item)
        if family is not None:
            last[family] = item
    kept = [
        item for family, item in last.items() if family not in _KEPT_IF or _KEPT_IF[family](item)
    ]
    return sorted(kept, key=lambda item: item.seq)


def resume_point(mission: Sequence[MissionItem], last_reached: int | None) -> int:
    """The item a resume starts with, after ``last_reached`` (None: nothing was reached):
    the one the vehicle would have flown next, DO_JUMPs followed (a forward jump's
    skipped items are not flown). ``len(mission)`` means nothing is left."""
    if last_reached is None:
        return 0
    walk = MissionWalk(mission)
    if walk.skip_past(last_reached):
        return walk.position
    return min(last_reached + 1, len(mission))  # not on the walk: the next in the file


def _takeoff(
    mission: Sequence[MissionItem],
    resume_from: int,
    home: tuple[float, float, float] | None,
    takeoff_alt_m: float | None,
) -> MissionItem | None:
    """The takeoff that starts a resumed mission; None when its first item is one."""
    if mission[resume_from].command == mav_cmd.NAV_TAKEOFF:
        return None
    own = next((i for i in mission[:resume_from] if i.command == mav_cmd.NAV_TAKEOFF), None)
    if own is not None:
        return own
    lat, lon = (home[0], home[1]) if home is not None else (0.0, 0.0)
    return MissionItem(
        seq=0,
        frame=FRAME_GLOBAL_RELATIVE_ALT,
        command=mav_cmd.NAV_TAKEOFF,
        current=1,
        autocontinue=1,
        param1=0.0,
        param2=0.0,
        param3=0.0,
        param4=float("nan"),
        x=round(lat * 1e7),
        y=round(lon * 1e7),
        z=takeoff_alt_m if takeoff_alt_m is not None else float("nan"),
        mission_type=0,
    )


def check_resume(mission: Sequence[MissionItem], resume_from: int) -> None:
    """``ResumeError`` when the mission cannot be resumed from ``resume_from``."""
    total = len(mission)
    if resume_from >= total:
        raise ResumeError(
            f"nothing is left to fly: the mission has {total} items (0..{total - 1}), "
            f"the rest would start at item {resume_from}"
        )
    for item in mission[resume_from:]:
        if item.command != mav_cmd.DO_JUMP:
            continue
        target, repeat = jump_of(item)
        if not 0 <= target < total:
            raise ResumeError(f"item {item.seq} (DO_JUMP) jumps to item {target}, which is absent")
        if target < resume_from and repeat != 0:
            raise ResumeError(
                f"the rest would start at item {resume_from}, inside the section (items "
                f"{target}..{item.seq}) that item {item.seq} (DO_JUMP) repeats: how many "
                f"repeats were left is not known, and they would fly items "
                f"{target}..{resume_from - 1} again; resume from item {target} "
                f"(extra.resume_from) to fly the section again, or run the plan again"
            )


def resume_mission(
    mission: Sequence[MissionItem],
    resume_from: int,
    *,
    home: tuple[float, float, float] | None = None,
    takeoff_alt_m: float | None = None,
) -> ResumedMission:
    """The mission that flies ``mission`` from item ``resume_from`` on (see the module's
    doc); ``ResumeError`` when it cannot. ``home`` (the file's) places a takeoff the
    mission lacks, at ``takeoff_alt_m`` above home (None: the vehicle's own height)."""
    if resume_from < 0:
        raise ResumeError(f"item {resume_from} is not an item number")
    check_resume(mission, resume_from)
    head: list[MissionItem] = []
    takeoff = _takeoff(mission, resume_from, home, takeoff_alt_m)
    if takeoff is not None:
        head.append(takeoff)
    settings = settings_before(mission, resume_from)
    head += settings
    offset = len(head) - resume_from
    rest: list[MissionItem] = []
    for item in mission[resume_from:]:
        if item.command == mav_cmd.DO_JUMP:
            target, _ = jump_of(item)
            # check_resume let through only targets in the rest, or a jump that never
            # jumps (repeat 0), which may point anywhere valid
            item = msgspec.structs.replace(item, param1=float(offset + max(target, resume_from)))
        rest.append(item)
    items = [
        msgspec.structs.replace(item, seq=seq, current=1 if seq == 0 else 0)
        for seq, item in enumerate([*head, *rest])
    ]
    originals: list[int | None] = [None] * len(head)
    originals += range(resume_from, len(mission))
    return ResumedMission(
        items, originals, resume_from, len(mission), [item.seq for item in settings]
    )
