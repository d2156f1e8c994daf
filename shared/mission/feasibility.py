"""PX4's mission checks, run before a mission reaches a vehicle (DESIGN §6).

A parsed file (``shared.mission.parse``) is well-formed; this module asks whether PX4
would fly it as its author meant. PX4 refuses a mission in two places: its mission upload
(``src/modules/mavlink/mavlink_mission.cpp``, ``parse_mavlink_mission_item``: which
commands it takes in which frames) and its feasibility check, run when a mission is
uploaded and before it may start (``src/modules/navigator/MissionFeasibility/
FeasibilityChecker.cpp`` and ``mission_feasibility_checker.cpp``). A file refused there
fails only on a real drone, after the operator has walked to the field; here it is refused
at plan write (HTTP 422 naming the item) and again by the agent before upload, with the
vehicle's real home and the geofence it will fly with.

The rules are those of PX4 v1.15 (``FeasibilityChecker.cpp`` of 2023-2024, the upload
code of PX4's main branch in 2024-2025), where we can apply them without the vehicle; each
names the PX4 check or parameter it comes from:

- **Commands and frames** (upload): global frames 0/5 (altitude above sea level) and 3/6
  (relative to home) for commands with a position, frame 2 (MISSION) for the others;
  terrain frames 10/11 and local frames are refused, and so is every command PX4 does not
  take (ArduPilot's LOITER_TURNS, SPLINE_WAYPOINT, CONDITION_YAW, DO_AUX_FUNCTION, JUMP_TAG,
  command 0, ...) or takes at upload and then refuses at its check (``unsupported cmd``).
  VTOL commands are refused: PX4 refuses them on a vehicle that is not a VTOL, and this
  fleet flies multicopters.
- **Takeoff** (``checkTakeoff``): a takeoff must come before any item that flies, and must
  be above home. ``MIS_TKO_LAND_REQ`` (``takeoff_land_required``) may require a takeoff
  and/or a landing (``checkTakeoffLandAvailable``).
- **Landing** (``checkMissionItemValidity``, ``checkLandPatternValidity``): no mission may
  start with a landing while the vehicle is on the ground (it is, at upload); one
  DO_LAND_START at most, a landing after it, and no RTL item after it. PX4 checks the
  DO_LAND_START rules for fixed-wing and VTOL vehicles; a multicopter's RTL joins the
  mission there too (``RTL_TYPE`` 1), so they hold here for all. Our own rule, not
  PX4's: an item that flies after a landing, with no takeoff between, is refused: PX4
  disarms once landed (``COM_DISARM_LAND``), so it would never fly.
- **DO_JUMP** (``mission_base.cpp``, ``getNonJumpItem``): the target is an item of the
  mission, not the jump itself, and not another DO_JUMP (PX4 gives up after 10 jumps in
  a row without an item between, "DO JUMP is cycling"); the repeat count is a whole
  number 0..65535 (PX4 stores it as an unsigned 16-bit count).
- **Altitudes against home**: a waypoint below home (``checkIfBelowHomeAltitude``) was
  refused by PX4 up to v1.13 and is a warning since; it is refused here unless
  ``below_home`` is ``allow``: it is the classic mistake of an altitude above sea level
  read as a height (100 m AMSL at a 584 m site flies into the hillside). Landing items
  are not checked (PX4 descends until touchdown whatever their altitude).
- **Distances** (``checkHorizontalDistanceToFirstWaypoint``): the first item with a
  position must be closer to home than ``MIS_DIST_1WP`` (PX4 v1.14+ measures from the
  vehicle, which stands at home before a mission). ``MIS_DIST_WPS`` (a limit between
  consecutive items) existed up to PX4 v1.13 and is off unless configured. A
  CONDITION_GATE may not sit on its neighbour (PX4: "waypoint and gate too close").
- **Geofence** (``checkMissionAgainstGeofence``; ``geofence.py``): the path (straight legs
  between the items with a position, from home when it is known, back home for an RTL
  item, back to the loop's start for a DO_JUMP) must stay inside the inclusion areas and
  out of the exclusion areas of the plan's own fence, else of the fence given (the
  vehicle's). The first item whose leg breaches is named, with the area and the place.

What is not checked here and why: PX4's "no home position, waypoint uses relative
altitude" (the agent's preflight waits for a home before upload), fixed-wing landing
slopes (``FW_LND_ANG``: not a multicopter's), ``GF_MAX_HOR_DIST``/``GF_MAX_VER_DIST``
(vehicle parameters we do not know). Where the home is unknown (a file without one, at
plan write), the rules that need it wait for the agent, which checks again with the
vehicle's home.

**Endless DO_JUMP loops.** ArduPilot (and Mission Planner's files) take a repeat count of
-1 as "for ever". PX4 has no such value: its count is unsigned, and -1 becomes 65535 or 0
depending on the processor, so the same file loops for days on one vehicle and not at all
on another. A job flying an endless loop never ends by itself; the battery decides.
Decision: a -1 repeat is refused unless the job (or its plan) opts in with ``extra``
``endless_loops=allow``. An opted-in job is uploaded with PX4's largest count, 65535 (weeks
of flight: longer than any battery), and runs until it is cancelled or a failsafe (low
battery, geofence, link loss) ends it; the agent does not take a mission that keeps
going for stuck (it waits for the mission's end however long that takes). Any other
negative count is a typing error and refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec

from shared import mav_cmd
from shared.mission.errors import MissionFileError
from shared.mission.geofence import EARTH_RADIUS_M, Geofence
from shared.mission.items import (
    FENCE_CIRCLE_COMMANDS,
    FENCE_POLYGON_COMMANDS,
    MissionFile,
    MissionItem,
    is_unplaced_takeoff,
)

# MAV_FRAME, as PX4's mission upload tells them apart.
FRAME_MISSION = 2
AMSL_FRAMES = frozenset({0, 5})
"""GLOBAL and GLOBAL_INT: the altitude is above mean sea level."""
RELATIVE_FRAMES = frozenset({3, 6})
"""GLOBAL_RELATIVE_ALT(_INT): the altitude is above home."""
TERRAIN_FRAMES = frozenset({10, 11})
PX4_GLOBAL_FRAMES = AMSL_FRAMES | RELATIVE_FRAMES
FRAME_NAMES = {
    0: "GLOBAL",
    1: "LOCAL_NED",
    2: "MISSION",
    3: "GLOBAL_RELATIVE_ALT",
    4: "LOCAL_ENU",
    5: "GLOBAL_INT",
    6: "GLOBAL_RELATIVE_ALT_INT",
    7: "LOCAL_OFFSET_NED",
    8: "BODY_NED",
    9: "BODY_OFFSET_NED",
    10: "GLOBAL_TERRAIN_ALT",
    11: "GLOBAL_TERRAIN_ALT_INT",
    12: "BODY_FRD",
}

UPLOAD_GLOBAL_COMMANDS = frozenset(
    {
        mav_cmd.NAV_WAYPOINT,
        mav_cmd.NAV_LOITER_UNLIM,
        mav_cmd.NAV_LOITER_TIME,
        mav_cmd.NAV_LAND,
        mav_cmd.NAV_TAKEOFF,
        mav_cmd.NAV_LOITER_TO_ALT,
        mav_cmd.NAV_ROI,
        mav_cmd.DO_SET_ROI,
        mav_cmd.DO_SET_ROI_LOCATION,
        mav_cmd.NAV_VTOL_TAKEOFF,
        mav_cmd.NAV_VTOL_LAND,
        mav_cmd.CONDITION_GATE,
        mav_cmd.NAV_FENCE_RETURN_POINT,
        *FENCE_POLYGON_COMMANDS,
        *FENCE_CIRCLE_COMMANDS,
        mav_cmd.NAV_RALLY_POINT,
        mav_cmd.COMPONENT_ARM_DISARM,
        mav_cmd.DO_AUTOTUNE_ENABLE,
    }
)
"""Commands PX4's mission upload takes in a global frame (``parse_mavlink_mission_item``)."""

UPLOAD_MISSION_FRAME_COMMANDS = frozenset(
    {
        mav_cmd.DO_JUMP,
        mav_cmd.NAV_ROI,
        mav_cmd.DO_SET_ROI,
        mav_cmd.DO_WINCH,
        mav_cmd.DO_GRIPPER,
        mav_cmd.DO_CHANGE_SPEED,
        mav_cmd.DO_SET_HOME,
        mav_cmd.DO_LAND_START,
        mav_cmd.DO_TRIGGER_CONTROL,
        mav_cmd.DO_DIGICAM_CONTROL,
        mav_cmd.DO_MOUNT_CONFIGURE,
        mav_cmd.DO_MOUNT_CONTROL,
        mav_cmd.DO_GIMBAL_MANAGER_PITCHYAW,
        mav_cmd.SET_CAMERA_FOCUS,
        mav_cmd.DO_GIMBAL_MANAGER_CONFIGURE,
        mav_cmd.IMAGE_START_CAPTURE,
        mav_cmd.IMAGE_STOP_CAPTURE,
        mav_cmd.VIDEO_START_CAPTURE,
        mav_cmd.VIDEO_STOP_CAPTURE,
        mav_cmd.DO_CONTROL_VIDEO,
        mav_cmd.DO_SET_CAM_TRIGG_DIST,
        mav_cmd.OBLIQUE_SURVEY,
        mav_cmd.DO_SET_CAM_TRIGG_INTERVAL,
        mav_cmd.SET_CAMERA_MODE,
        mav_cmd.SET_CAMERA_SOURCE,
        mav_cmd.DO_VTOL_TRANSITION,
        mav_cmd.NAV_DELAY,
        mav_cmd.NAV_RETURN_TO_LAUNCH,
        mav_cmd.DO_SET_ROI_WPNEXT_OFFSET,
        mav_cmd.DO_SET_ROI_NONE,
        mav_cmd.CONDITION_DELAY,
        mav_cmd.CONDITION_DISTANCE,
        mav_cmd.DO_SET_ACTUATOR,
        mav_cmd.DO_AUTOTUNE_ENABLE,
        mav_cmd.COMPONENT_ARM_DISARM,
    }
)
"""Commands PX4's mission upload takes in frame 2 (MISSION): those without a position."""

FLOWN_COMMANDS = frozenset(
    {
        mav_cmd.NAV_WAYPOINT,
        mav_cmd.NAV_LOITER_UNLIM,
        mav_cmd.NAV_LOITER_TIME,
        mav_cmd.NAV_RETURN_TO_LAUNCH,
        mav_cmd.NAV_LAND,
        mav_cmd.NAV_TAKEOFF,
        mav_cmd.NAV_LOITER_TO_ALT,
        mav_cmd.NAV_VTOL_TAKEOFF,
        mav_cmd.NAV_VTOL_LAND,
        mav_cmd.NAV_DELAY,
        mav_cmd.CONDITION_GATE,
        mav_cmd.DO_WINCH,
        mav_cmd.DO_GRIPPER,
        mav_cmd.DO_JUMP,
        mav_cmd.DO_CHANGE_SPEED,
        mav_cmd.DO_SET_HOME,
        mav_cmd.DO_LAND_START,
        mav_cmd.DO_TRIGGER_CONTROL,
        mav_cmd.DO_DIGICAM_CONTROL,
        mav_cmd.IMAGE_START_CAPTURE,
        mav_cmd.IMAGE_STOP_CAPTURE,
        mav_cmd.VIDEO_START_CAPTURE,
        mav_cmd.VIDEO_STOP_CAPTURE,
        mav_cmd.DO_CONTROL_VIDEO,
        mav_cmd.DO_MOUNT_CONFIGURE,
        mav_cmd.DO_MOUNT_CONTROL,
        mav_cmd.DO_GIMBAL_MANAGER_PITCHYAW,
        mav_cmd.DO_GIMBAL_MANAGER_CONFIGURE,
        mav_cmd.DO_SET_ACTUATOR,
        mav_cmd.NAV_ROI,  # PX4 stores it as DO_SET_ROI
        mav_cmd.DO_SET_ROI,
        mav_cmd.DO_SET_ROI_LOCATION,
        mav_cmd.DO_SET_ROI_WPNEXT_OFFSET,
        mav_cmd.DO_SET_ROI_NONE,
        mav_cmd.DO_SET_CAM_TRIGG_DIST,
        mav_cmd.OBLIQUE_SURVEY,
        mav_cmd.DO_SET_CAM_TRIGG_INTERVAL,
        mav_cmd.SET_CAMERA_MODE,
        mav_cmd.SET_CAMERA_ZOOM,
        mav_cmd.SET_CAMERA_FOCUS,
        mav_cmd.DO_VTOL_TRANSITION,
    }
)
"""Commands PX4's feasibility check accepts (``checkMissionItemValidity``); the upload
takes a few more (CONDITION_DELAY, ARM_DISARM, ...) that the check then refuses."""

POSITION_COMMANDS = frozenset(
    {
        mav_cmd.NAV_WAYPOINT,
        mav_cmd.NAV_LOITER_UNLIM,
        mav_cmd.NAV_LOITER_TIME,
        mav_cmd.NAV_LAND,
        mav_cmd.NAV_TAKEOFF,
        mav_cmd.NAV_LOITER_TO_ALT,
        mav_cmd.NAV_VTOL_TAKEOFF,
        mav_cmd.NAV_VTOL_LAND,
        mav_cmd.CONDITION_GATE,
    }
)
"""Items the vehicle flies to (PX4's ``MissionBlock::item_contains_position``)."""

NOT_FLYING_COMMANDS = frozenset(
    {
        mav_cmd.NAV_DELAY,
        mav_cmd.DO_JUMP,
        mav_cmd.DO_CHANGE_SPEED,
        mav_cmd.DO_SET_HOME,
        mav_cmd.DO_LAND_START,
        mav_cmd.DO_TRIGGER_CONTROL,
        mav_cmd.DO_DIGICAM_CONTROL,
        mav_cmd.IMAGE_START_CAPTURE,
        mav_cmd.IMAGE_STOP_CAPTURE,
        mav_cmd.VIDEO_START_CAPTURE,
        mav_cmd.VIDEO_STOP_CAPTURE,
        mav_cmd.DO_CONTROL_VIDEO,
        mav_cmd.DO_MOUNT_CONFIGURE,
        mav_cmd.DO_MOUNT_CONTROL,
        mav_cmd.DO_GIMBAL_MANAGER_PITCHYAW,
        mav_cmd.DO_GIMBAL_MANAGER_CONFIGURE,
        mav_cmd.NAV_ROI,
        mav_cmd.DO_SET_ROI,
        mav_cmd.DO_SET_ROI_LOCATION,
        mav_cmd.DO_SET_ROI_WPNEXT_OFFSET,
        mav_cmd.DO_SET_ROI_NONE,
        mav_cmd.DO_SET_CAM_TRIGG_DIST,
        mav_cmd.OBLIQUE_SURVEY,
        mav_cmd.DO_SET_CAM_TRIGG_INTERVAL,
        mav_cmd.SET_CAMERA_MODE,
        mav_cmd.SET_CAMERA_ZOOM,
        mav_cmd.SET_CAMERA_FOCUS,
        mav_cmd.DO_VTOL_TRANSITION,
    }
)
"""Items a takeoff may follow (``checkTakeoff``: anything else counts as flying first)."""

VTOL_COMMANDS = frozenset(
    {mav_cmd.NAV_VTOL_TAKEOFF, mav_cmd.NAV_VTOL_LAND, mav_cmd.DO_VTOL_TRANSITION}
)
TAKEOFF_COMMANDS = frozenset({mav_cmd.NAV_TAKEOFF, mav_cmd.NAV_VTOL_TAKEOFF})
LANDING_COMMANDS = frozenset({mav_cmd.NAV_LAND, mav_cmd.NAV_VTOL_LAND})
NOT_MISSION_ITEMS = frozenset(
    {*FENCE_POLYGON_COMMANDS, *FENCE_CIRCLE_COMMANDS, mav_cmd.NAV_RALLY_POINT}
)
"""Geofence and rally items: PX4's upload refuses them in a mission ("wrong item")."""

MAX_JUMPS_IN_A_ROW = 10
"""PX4's ``NAV_MAX_JUMP_ITERATION``: jumps followed without an item between."""
MAX_REPEAT = 65_535
"""PX4 keeps a DO_JUMP's repeat count in a ``uint16_t``."""
ENDLESS_REPEAT = -1
"""ArduPilot's "repeat for ever"."""
GATE_MIN_DISTANCE_M = 0.05
"""PX4: a CONDITION_GATE this close to its neighbour gives no direction."""
MAV_ROI_NONE, MAV_ROI_WPINDEX, MAV_ROI_LOCATION = 0, 2, 3

_HINTS = {
    mav_cmd.NAV_LOITER_TURNS: "PX4 has no loiter for a number of turns: use LOITER_TIME (19)",
    mav_cmd.NAV_SPLINE_WAYPOINT: "PX4 flies no splines: use NAV_WAYPOINT (16)",
    mav_cmd.CONDITION_YAW: "give the heading in a waypoint's param 4 instead",
    mav_cmd.CONDITION_DELAY: "use NAV_DELAY (93), or a waypoint's hold time (param 1)",
    mav_cmd.DO_SET_SERVO: "use DO_SET_ACTUATOR (187)",
    mav_cmd.DO_SET_RELAY: "use DO_SET_ACTUATOR (187)",
    mav_cmd.NAV_PAYLOAD_PLACE: "it is ArduPilot's; use DO_WINCH or DO_GRIPPER",
    mav_cmd.DO_AUX_FUNCTION: "it is ArduPilot's",
    mav_cmd.JUMP_TAG: "it is ArduPilot's; use DO_JUMP to an item",
    mav_cmd.DO_JUMP_TAG: "it is ArduPilot's; use DO_JUMP to an item",
    mav_cmd.NAV_ARC_WAYPOINT: "PX4 flies no arcs: use waypoints",
    mav_cmd.NAV_FENCE_RETURN_POINT: "it belongs in the geofence, not the mission",
}


class MissionLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The configurable limits of the check, with PX4's defaults (PX4 v1.15)."""

    max_first_waypoint_distance_m: Annotated[float, msgspec.Meta(ge=0, le=1e7)] = 10_000.0
    """The first item with a position must be closer to home than this, metres (PX4's
    ``MIS_DIST_1WP``, 10 km since v1.14, 900 m before); 0 turns the check off."""
    max_waypoint_distance_m: Annotated[float, msgspec.Meta(ge=0, le=1e7)] = 0.0
    """Longest straight leg between consecutive items with a position, metres (PX4's
    ``MIS_DIST_WPS``, which v1.14 removed; 900 m up to v1.13); 0 turns the check off."""
    takeoff_land_required: Annotated[int, msgspec.Meta(ge=0, le=5)] = 0
    """PX4's ``MIS_TKO_LAND_REQ``: 0 nothing, 1 a takeoff, 2 a landing, 3 both, 4 both or
    neither, 5 as 4 (a mission is uploaded on the ground)."""
    below_home: Literal["refuse", "allow"] = "refuse"
    """Waypoints lower than home: ``refuse`` (PX4 up to v1.13; the usual AMSL-for-height
    mistake) or ``allow`` (PX4 v1.14+ only warns; where the ground falls away)."""


PX4_DEFAULTS = MissionLimits()

Home = tuple[float, float, float]
"""Latitude, longitude (degrees), altitude above sea level (m; NaN: unknown)."""


def check_feasible(
    mission: MissionFile,
    limits: MissionLimits = PX4_DEFAULTS,
    *,
    home: Home | None = None,
    fence: Sequence[MissionItem] = (),
    fence_source: str = "the vehicle's geofence",
    endless_loops: bool = False,
) -> None:
    """Refuse ``mission`` with ``MissionFileError(mission.where(seq), message)`` at the
    first item PX4 would refuse (or that would breach the geofence); None when it flies.

    ``home`` is the vehicle's home (else the file's is used); ``fence`` the geofence the
    vehicle holds, used when the file has none of its own (``fence_source`` names it in
    messages); ``endless_loops`` the job's opt-in to a DO_JUMP repeating for ever.
    """
    check = _Check(mission, limits, home if home is not None else mission.home, endless_loops)
    for item in mission.mission:
        check.item(item)
    check.end()
    if mission.fence:
        fence, fence_source = mission.fence, "the plan's geofence"
    if fence:
        check.path(Geofence(fence, fence_source))


def takeoff_height_m(item: MissionItem, home_alt_m: float | None) -> float | None:
    """How high above home a takeoff item climbs: its altitude in a relative frame, its
    altitude less home's in an above-sea-level one; None when that needs an unknown home."""
    if item.frame in AMSL_FRAMES:
        if home_alt_m is None or not math.isfinite(home_alt_m):
            return None
        return item.z - home_alt_m
    return item.z


def is_endless_jump(item: MissionItem) -> bool:
    """A DO_JUMP repeating for ever (ArduPilot's -1)."""
    return item.command == mav_cmd.DO_JUMP and item.param2 == ENDLESS_REPEAT


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two latitude/longitude points (PX4's formula)."""
    lat1, lat2 = math.radians(a[0]), math.radians(b[0])
    dlat, dlon = lat2 - lat1, math.radians(b[1] - a[1])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _lat_lon(item: MissionItem) -> tuple[float, float]:
    return (item.x / 1e7, item.y / 1e7)


def _frame(frame: int) -> str:
    return f"frame {frame} ({FRAME_NAMES[frame]})" if frame in FRAME_NAMES else f"frame {frame}"


def _altitude(item: MissionItem) -> str:
    where = "above sea level" if item.frame in AMSL_FRAMES else "above home"
    return f"altitude {item.z:g} m {where}"


@dataclass
class _Check:
    """One pass over the items, in order, keeping what the rules need to know."""

    mission: MissionFile
    limits: MissionLimits
    home: Home | None
    endless_loops: bool
    flying_before: int | None = None
    """The first item that flies (a takeoff must come before it)."""
    has_takeoff: bool = False
    landed_at: int | None = None
    """The first landing: nothing flies after it."""
    has_landing: bool = False
    land_start: int | None = None
    landing_after_land_start: bool = False
    previous: MissionItem | None = None
    """The last item with a position."""

    def fail(self, seq: int, message: str) -> MissionFileError:
        return MissionFileError(self.mission.where(seq), message)

    @property
    def home_alt_m(self) -> float | None:
        if self.home is None or not math.isfinite(self.home[2]):
            return None
        return self.home[2]

    @property
    def home_lat_lon(self) -> tuple[float, float] | None:
        if self.home is None or not (math.isfinite(self.home[0]) and math.isfinite(self.home[1])):
            return None
        return (self.home[0], self.home[1])

    # Per item -------------------------------------------------------------------------

    def item(self, item: MissionItem) -> None:
        self.upload(item)
        self.flown(item)
        command = item.command
        if command == mav_cmd.DO_JUMP:
            self.jump(item)
        if command in TAKEOFF_COMMANDS:
            self.takeoff(item)
        elif self.landed_at is not None and (
            command in POSITION_COMMANDS or command == mav_cmd.NAV_RETURN_TO_LAUNCH
        ):
            raise self.fail(
                item.seq,
                f"item {item.seq} flies after the landing at item {self.landed_at} with no "
                "takeoff between: PX4 disarms once landed (COM_DISARM_LAND), so it would "
                "never fly; end the mission with the landing",
            )
        if command not in NOT_FLYING_COMMANDS and self.flying_before is None:
            self.flying_before = item.seq
        if command in LANDING_COMMANDS:
            self.landing(item)
        elif command == mav_cmd.DO_LAND_START:
            if self.land_start is not None:
                raise self.fail(
                    item.seq,
                    f"a second DO_LAND_START (the first is item {self.land_start}): "
                    "PX4 refuses more than one land start",
                )
            self.land_start = item.seq
        elif command == mav_cmd.NAV_RETURN_TO_LAUNCH and self.land_start is not None:
            raise self.fail(
                item.seq,
                f"an RTL item after the DO_LAND_START of item {self.land_start}: PX4 refuses "
                "it (the landing sequence must end the mission)",
            )
        if command in POSITION_COMMANDS and not is_unplaced_takeoff(item):
            self.below_home(item)
            self.distances(item)
            self.previous = item

    def upload(self, item: MissionItem) -> None:
        """What PX4's mission upload takes (``parse_mavlink_mission_item``)."""
        command, frame, seq = item.command, item.frame, item.seq
        if frame in TERRAIN_FRAMES:
            raise self.fail(
                seq,
                f"altitude above terrain (frame {frame}, {FRAME_NAMES[frame]}) needs terrain "
                "data, which PX4 "
                "missions do not use; set a relative altitude (frame 3)",
            )
        if frame != FRAME_MISSION and frame not in PX4_GLOBAL_FRAMES:
            raise self.fail(
                seq,
                f"{_frame(frame)} is not a global frame: PX4 flies missions in global frames "
                "only; use frame 3 (altitude relative to home) or 0 (above sea level)",
            )
        if command == 0:
            raise self.fail(
                seq,
                "command 0 is no MAVLink command (Mission Planner writes it for a home or "
                "an empty row); PX4 refuses it at upload",
            )
        if command in NOT_MISSION_ITEMS:
            kind = "rally point" if command == mav_cmd.NAV_RALLY_POINT else "geofence item"
            raise self.fail(
                seq,
                f"command {mav_cmd.name(command)} is a {kind}, not a mission item: PX4 refuses "
                "it in a mission; put it in the plan's geoFence or rallyPoints",
            )
        in_global = command in UPLOAD_GLOBAL_COMMANDS
        in_mission = command in UPLOAD_MISSION_FRAME_COMMANDS
        if not (in_global or in_mission):
            hint = _HINTS.get(command)
            raise self.fail(
                seq,
                f"command {mav_cmd.name(command)} is not flown by PX4"
                + (f" ({hint})" if hint else ""),
            )
        if frame == FRAME_MISSION and not in_mission:
            raise self.fail(
                seq,
                f"command {mav_cmd.name(command)} has a position: PX4 takes it only in a "
                f"global frame (3: relative to home, 0: above sea level), not {_frame(frame)}",
            )
        if frame != FRAME_MISSION and not in_global:
            raise self.fail(
                seq,
                f"command {mav_cmd.name(command)} has no position: PX4 takes it only in "
                f"frame 2 (MISSION), not {_frame(frame)}",
            )
        if command in (mav_cmd.NAV_ROI, mav_cmd.DO_SET_ROI):
            mode = item.param1
            allowed = (
                (MAV_ROI_LOCATION, MAV_ROI_NONE)
                if frame != FRAME_MISSION
                else tuple(range(MAV_ROI_NONE, MAV_ROI_WPINDEX + 1))
            )
            if mode not in allowed:
                raise self.fail(
                    seq,
                    f"{mav_cmd.name(command)} mode {mode:g} is refused by PX4: with a position "
                    "it takes mode 3 (location) or 0 (none), without one modes 0-2",
                )

    def flown(self, item: MissionItem) -> None:
        """What PX4's feasibility check takes (``checkMissionItemValidity``,
        ``checkItemsFitToVehicleType``)."""
        command = item.command
        if command in VTOL_COMMANDS:
            raise self.fail(
                item.seq,
                f"command {mav_cmd.name(command)} is for VTOL aircraft: PX4 refuses it on a "
                "multicopter",
            )
        if command not in FLOWN_COMMANDS:
            hint = _HINTS.get(command)
            raise self.fail(
                item.seq,
                f"command {mav_cmd.name(command)} is not flown by PX4: its mission check "
                "refuses it (unsupported command)" + (f"; {hint}" if hint else ""),
            )

    def jump(self, item: MissionItem) -> None:
        items, seq = self.mission.mission, item.seq
        target, repeat = item.param1, item.param2
        if not (math.isfinite(target) and target.is_integer() and 0 <= target < len(items)):
            raise self.fail(
                seq, f"DO_JUMP target {target!r} is no item of this mission (0..{len(items) - 1})"
            )
        to = int(target)
        if to == seq:
            raise self.fail(seq, "DO_JUMP to itself: it would repeat nothing")
        if items[to].command == mav_cmd.DO_JUMP:
            raise self.fail(
                seq,
                f"DO_JUMP onto another DO_JUMP (item {to}): PX4 follows at most "
                f"{MAX_JUMPS_IN_A_ROW} jumps with no item between, then gives the mission up; "
                "jump to an item that flies",
            )
        if repeat == ENDLESS_REPEAT:
            if not self.endless_loops:
                raise self.fail(
                    seq,
                    "DO_JUMP repeat -1 loops for ever: the job would never end and the battery "
                    f"would drain (PX4 counts repeats 0..{MAX_REPEAT}, with no endless value). "
                    "Give a repeat count, or set the job's extra endless_loops=allow to fly it "
                    "until it is cancelled or a failsafe ends it",
                )
            return
        if not (math.isfinite(repeat) and repeat.is_integer() and 0 <= repeat <= MAX_REPEAT):
            raise self.fail(
                seq,
                f"DO_JUMP repeat count {repeat!r} is not a whole number 0..{MAX_REPEAT} "
                "(PX4 keeps it as an unsigned 16-bit count; -1, for ever, needs "
                "endless_loops=allow)",
            )

    def takeoff(self, item: MissionItem) -> None:
        """``checkTakeoff``: first of the items that fly, and above home."""
        if self.flying_before is not None:
            raise self.fail(
                item.seq,
                f"the takeoff is not the first item that flies (item {self.flying_before} "
                "comes before it): PX4 refuses the mission",
            )
        height = takeoff_height_m(item, self.home_alt_m)
        if height is not None and height < 1e-6:
            below = (
                f" ({-height:g} m below the home's {self.home_alt_m:g} m)"
                if item.frame in AMSL_FRAMES and self.home_alt_m is not None
                else ""
            )
            raise self.fail(
                item.seq,
                f"takeoff {_altitude(item)} is not above home{below}: PX4 refuses it "
                "(takeoff altitude below home altitude)",
            )
        self.has_takeoff = True

    def landing(self, item: MissionItem) -> None:
        if item.seq == 0:
            raise self.fail(
                item.seq,
                "the mission starts with a landing: PX4 refuses it while the vehicle is on "
                "the ground",
            )
        self.has_landing = True
        if self.landed_at is None:
            self.landed_at = item.seq
        if self.land_start is not None:
            self.landing_after_land_start = True

    def below_home(self, item: MissionItem) -> None:
        """``checkIfBelowHomeAltitude`` (a refusal up to PX4 v1.13, a warning since)."""
        if self.limits.below_home == "allow" or item.command in (
            TAKEOFF_COMMANDS | LANDING_COMMANDS
        ):
            return
        if item.frame in RELATIVE_FRAMES:
            below = -item.z
        elif self.home_alt_m is not None:
            below = self.home_alt_m - item.z
        else:
            return
        if below > 0:
            amsl = (
                f" (home is {self.home_alt_m:g} m above sea level)"
                if item.frame in AMSL_FRAMES
                else ""
            )
            raise self.fail(
                item.seq,
                f"{_altitude(item)} is {below:g} m below home{amsl}: the vehicle would fly "
                "into the ground unless it falls away there. Give the altitude relative to "
                "home (frame 3), or allow it (below_home = allow)",
            )

    def distances(self, item: MissionItem) -> None:
        here = _lat_lon(item)
        previous = self.previous
        if previous is None:
            limit = self.limits.max_first_waypoint_distance_m
            home = self.home_lat_lon
            if limit > 0 and home is not None:
                d = distance_m(home, here)
                if d >= limit:
                    raise self.fail(
                        item.seq,
                        f"the first waypoint is {d:,.0f} m from home: PX4 refuses a first "
                        f"waypoint {limit:,.0f} m away or more (MIS_DIST_1WP; "
                        "max_first_waypoint_distance_m)",
                    )
            return
        d = distance_m(_lat_lon(previous), here)
        limit = self.limits.max_waypoint_distance_m
        if limit > 0 and d > limit:
            raise self.fail(
                item.seq,
                f"item {item.seq} is {d:,.0f} m from item {previous.seq}, more than "
                f"{limit:,.0f} m (MIS_DIST_WPS of PX4 up to v1.13; max_waypoint_distance_m)",
            )
        gate = mav_cmd.CONDITION_GATE
        if d < GATE_MIN_DISTANCE_M and gate in (item.command, previous.command):
            raise self.fail(
                item.seq,
                f"item {item.seq} and item {previous.seq} are at the same place and one is a "
                "CONDITION_GATE: PX4 refuses it (a gate needs a direction)",
            )

    # Whole mission ----------------------------------------------------------------------

    def end(self) -> None:
        items = self.mission.mission
        last = len(items) - 1
        if self.land_start is not None and not self.landing_after_land_start:
            raise self.fail(
                self.land_start,
                "no landing follows this DO_LAND_START: PX4 refuses the mission (invalid "
                "land start)",
            )
        required = self.limits.takeoff_land_required
        takeoff, landing = self.has_takeoff, self.has_landing
        if required in (1, 3) and not takeoff:
            raise self.fail(0, f"PX4 requires a takeoff item (MIS_TKO_LAND_REQ {required})")
        if required in (2, 3) and not landing:
            raise self.fail(last, f"PX4 requires a landing item (MIS_TKO_LAND_REQ {required})")
        if required in (4, 5) and takeoff != landing:
            fix = (
                "add a landing or remove the takeoff"
                if takeoff
                else "add a takeoff or remove the landing"
            )
            raise self.fail(
                last if takeoff else 0,
                "PX4 requires both a takeoff and a landing, or neither "
                f"(MIS_TKO_LAND_REQ {required}): {fix}",
            )

    def path(self, fence: Geofence) -> None:
        """Every straight leg the vehicle flies, checked against ``fence``."""
        if not fence:
            return
        items = self.mission.mission
        home = self.home_lat_lon
        at: tuple[float, float] | None = home
        at_name = "home"
        for item in items:
            command = item.command
            if command in POSITION_COMMANDS and not is_unplaced_takeoff(item):
                end, end_name = _lat_lon(item), f"item {item.seq}"
            elif command == mav_cmd.NAV_RETURN_TO_LAUNCH and home is not None:
                end, end_name = home, "home"
            elif command == mav_cmd.DO_JUMP and item.param2 != 0 and at is not None:
                loop_start = next(
                    (i for i in items[int(item.param1) :] if i.command in POSITION_COMMANDS),
                    None,
                )
                if loop_start is not None:
                    self._leg(fence, item, at, at_name, _lat_lon(loop_start))
                continue
            else:
                continue
            self._leg(fence, item, at if at is not None else end, at_name, end)
            at, at_name = end, end_name

    def _leg(
        self,
        fence: Geofence,
        item: MissionItem,
        start: tuple[float, float],
        start_name: str,
        end: tuple[float, float],
    ) -> None:
        breach = fence.breach(start, end)
        if breach is None:
            return
        lat, lon = breach.at
        if start == end:
            leg = f"item {item.seq} is " + ("outside" if breach.inclusion else "inside")
        else:
            if item.command == mav_cmd.DO_JUMP:
                leg = f"the jump from {start_name} to item {int(item.param1)}"
            elif item.command == mav_cmd.NAV_RETURN_TO_LAUNCH:
                leg = f"the return from {start_name} to home"
            else:
                leg = f"the straight leg from {start_name} to item {item.seq}"
            leg += " leaves" if breach.inclusion else " enters"
        raise self.fail(
            item.seq,
            f"{leg} {breach.area} of {fence.source} at {lat:.6f}, {lon:.6f}: the vehicle "
            "would breach the fence (PX4's mission check refuses it, or its GF_ACTION ends "
            "the flight)",
        )
