"""PX4's mission feasibility check, as the simulated vehicle runs it on its uploaded mission.

A mission PX4 stores can still be one it will not fly: its navigator checks the whole
mission and, when a check fails, says why in a STATUSTEXT and marks the mission invalid
(``mission_result.valid``); the commander then refuses to switch to Mission mode or to
start it. The simulator does the same, so a test flying a file a real PX4 would refuse
fails the way it would on the drone.

Mirrors ``FeasibilityChecker.cpp`` (``src/modules/navigator/MissionFeasibility/``) and
``MissionFeasibilityChecker::checkMissionFeasible()`` / ``checkGeofence()``
(``src/modules/navigator/mission_feasibility_checker.cpp``) of PX4-Autopilot (main branch,
v1.15 era), for a multicopter (not a VTOL, not a fixed wing: their land-pattern checks
are left out). The texts are PX4's, word for word; all are MAV_SEVERITY_CRITICAL except
"no position lock" (INFO). The parameters read are ``MIS_DIST_1WP``, ``MIS_TKO_LAND_REQ``,
``GF_MAX_HOR_DIST`` and ``GF_MAX_VER_DIST`` (``params.py``).

Not checked, because PX4 does not check it either: DO_JUMP targets and repeat counts (a
jump to a missing item ends the mission when reached), items below home (only older PX4
versions warned), the path between waypoints against the geofence (waypoints only).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pymavlink.dialects.v20 import common as mavlink

from simulator import geo, geofence
from simulator.mission_items import RELATIVE_FRAMES, MissionItem

M = mavlink
FLT_EPSILON = 1.1920929e-07
GATE_MIN_DISTANCE_M = 0.05
"""Waypoints and a CONDITION_GATE closer than this make the gate's direction undefined."""

SUPPORTED = frozenset(
    {
        M.MAV_CMD_NAV_WAYPOINT,
        M.MAV_CMD_NAV_LOITER_UNLIM,
        M.MAV_CMD_NAV_LOITER_TIME,
        M.MAV_CMD_NAV_RETURN_TO_LAUNCH,
        M.MAV_CMD_NAV_LAND,
        M.MAV_CMD_NAV_TAKEOFF,
        M.MAV_CMD_NAV_LOITER_TO_ALT,
        M.MAV_CMD_NAV_VTOL_TAKEOFF,
        M.MAV_CMD_NAV_VTOL_LAND,
        M.MAV_CMD_NAV_DELAY,
        M.MAV_CMD_CONDITION_GATE,
        M.MAV_CMD_DO_WINCH,
        M.MAV_CMD_DO_GRIPPER,
        M.MAV_CMD_DO_JUMP,
        M.MAV_CMD_DO_CHANGE_SPEED,
        M.MAV_CMD_DO_SET_HOME,
        M.MAV_CMD_DO_LAND_START,
        M.MAV_CMD_DO_TRIGGER_CONTROL,
        M.MAV_CMD_DO_DIGICAM_CONTROL,
        M.MAV_CMD_IMAGE_START_CAPTURE,
        M.MAV_CMD_IMAGE_STOP_CAPTURE,
        M.MAV_CMD_VIDEO_START_CAPTURE,
        M.MAV_CMD_VIDEO_STOP_CAPTURE,
        M.MAV_CMD_DO_CONTROL_VIDEO,
        M.MAV_CMD_DO_MOUNT_CONFIGURE,
        M.MAV_CMD_DO_MOUNT_CONTROL,
        M.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW,
        M.MAV_CMD_DO_GIMBAL_MANAGER_CONFIGURE,
        M.MAV_CMD_DO_SET_ACTUATOR,
        M.MAV_CMD_DO_SET_ROI,
        M.MAV_CMD_DO_SET_ROI_LOCATION,
        M.MAV_CMD_DO_SET_ROI_WPNEXT_OFFSET,
        M.MAV_CMD_DO_SET_ROI_NONE,
        M.MAV_CMD_DO_SET_CAM_TRIGG_DIST,
        M.MAV_CMD_OBLIQUE_SURVEY,
        M.MAV_CMD_DO_SET_CAM_TRIGG_INTERVAL,
        M.MAV_CMD_SET_CAMERA_MODE,
        M.MAV_CMD_SET_CAMERA_ZOOM,
        M.MAV_CMD_SET_CAMERA_FOCUS,
        M.MAV_CMD_DO_VTOL_TRANSITION,
    }
)
"""Commands a mission may hold. Some commands pass the upload but not this list (so the
mission is refused here): FENCE_RETURN_POINT, CONDITION_DELAY, CONDITION_DISTANCE,
COMPONENT_ARM_DISARM, DO_AUTOTUNE_ENABLE, SET_CAMERA_SOURCE."""

WITHOUT_POSITION = frozenset(
    {
        M.MAV_CMD_NAV_DELAY,
        M.MAV_CMD_DO_JUMP,
        M.MAV_CMD_DO_CHANGE_SPEED,
        M.MAV_CMD_DO_SET_HOME,
        M.MAV_CMD_DO_LAND_START,
        M.MAV_CMD_DO_TRIGGER_CONTROL,
        M.MAV_CMD_DO_DIGICAM_CONTROL,
        M.MAV_CMD_IMAGE_START_CAPTURE,
        M.MAV_CMD_IMAGE_STOP_CAPTURE,
        M.MAV_CMD_VIDEO_START_CAPTURE,
        M.MAV_CMD_VIDEO_STOP_CAPTURE,
        M.MAV_CMD_DO_CONTROL_VIDEO,
        M.MAV_CMD_DO_MOUNT_CONFIGURE,
        M.MAV_CMD_DO_MOUNT_CONTROL,
        M.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW,
        M.MAV_CMD_DO_GIMBAL_MANAGER_CONFIGURE,
        M.MAV_CMD_DO_SET_ROI,
        M.MAV_CMD_DO_SET_ROI_LOCATION,
        M.MAV_CMD_DO_SET_ROI_WPNEXT_OFFSET,
        M.MAV_CMD_DO_SET_ROI_NONE,
        M.MAV_CMD_DO_SET_CAM_TRIGG_DIST,
        M.MAV_CMD_OBLIQUE_SURVEY,
        M.MAV_CMD_DO_SET_CAM_TRIGG_INTERVAL,
        M.MAV_CMD_SET_CAMERA_MODE,
        M.MAV_CMD_SET_CAMERA_ZOOM,
        M.MAV_CMD_SET_CAMERA_FOCUS,
        M.MAV_CMD_DO_VTOL_TRANSITION,
    }
)
"""Commands that may come before a takeoff item; anything else (an RTL, a winch, a
waypoint...) before it makes "takeoff not first waypoint item"."""

WITH_POSITION = frozenset(
    {
        M.MAV_CMD_NAV_WAYPOINT,
        M.MAV_CMD_NAV_LOITER_UNLIM,
        M.MAV_CMD_NAV_LOITER_TIME,
        M.MAV_CMD_NAV_LAND,
        M.MAV_CMD_NAV_TAKEOFF,
        M.MAV_CMD_NAV_LOITER_TO_ALT,
        M.MAV_CMD_NAV_VTOL_TAKEOFF,
        M.MAV_CMD_NAV_VTOL_LAND,
        M.MAV_CMD_CONDITION_GATE,
    }
)
"""PX4's ``MissionBlock::item_contains_position``: the items whose position is checked."""

VTOL_ONLY = frozenset(
    {M.MAV_CMD_NAV_VTOL_TAKEOFF, M.MAV_CMD_NAV_VTOL_LAND, M.MAV_CMD_DO_VTOL_TRANSITION}
)
TAKEOFFS = frozenset({M.MAV_CMD_NAV_TAKEOFF, M.MAV_CMD_NAV_VTOL_TAKEOFF})

Fail = Callable[[str], bool]
"""Records a failure's text and marks the mission invalid; returns True (the check failed)."""


@dataclass(frozen=True, slots=True)
class Situation:
    """What the check reads from the vehicle besides the mission."""

    home: tuple[float, float, float] | None
    """Latitude, longitude (degrees), altitude AMSL (metres); None before a position lock."""
    position: tuple[float, float]
    """The vehicle's latitude and longitude now, degrees."""
    landed: bool
    zones: Sequence[geofence.Zone] = ()
    dist_1wp_m: float = 10_000.0
    """``MIS_DIST_1WP``: the first waypoint must be closer than this (0: no limit)."""
    takeoff_land_req: int = 0
    """``MIS_TKO_LAND_REQ``: 0 none, 1 takeoff, 2 landing, 3 both, 4 both or neither,
    5 landing when in the air, else both or neither."""
    max_hor_dist_m: float = 0.0
    """``GF_MAX_HOR_DIST`` from home (0: no limit)."""
    max_ver_dist_m: float = 0.0
    """``GF_MAX_VER_DIST`` above home (0: no limit)."""


@dataclass(slots=True)
class Verdict:
    """The check's outcome: ``valid`` and what PX4 says on the way."""

    valid: bool
    texts: list[tuple[str, int]] = field(default_factory=list)
    """(text, MAV_SEVERITY) in the order PX4 sends them."""


def stored_command(item: MissionItem) -> int:
    """The command as PX4 stores it: NAV_ROI becomes DO_SET_ROI, the rest stay."""
    return M.MAV_CMD_DO_SET_ROI if item.command == M.MAV_CMD_NAV_ROI else item.command


def _latlon(item: MissionItem) -> tuple[float, float]:
    return item.x * 1e-7, item.y * 1e-7


def _alt_amsl(item: MissionItem, home_alt_m: float) -> float:
    return item.z + home_alt_m if item.frame in RELATIVE_FRAMES else item.z


def check(items: Sequence[MissionItem], s: Situation) -> Verdict:
    """Whether PX4 would fly ``items`` in situation ``s``, with what it says."""
    if not items:
        return Verdict(False)  # an empty mission is invalid, silently
    if s.home is None:
        text = "Not yet ready for mission, no position lock."
        return Verdict(False, [(text, M.MAV_SEVERITY_INFO)])
    critical = M.MAV_SEVERITY_CRITICAL
    verdict = Verdict(True)

    def fail(text: str) -> bool:
        verdict.valid = False
        return note(text)

    def note(text: str) -> bool:
        verdict.texts.append((text, critical))
        return True

    home_alt = s.home[2]
    gate_failed = first_failed = takeoff_failed = vtol_failed = False
    first_found = found_position = has_takeoff = landing = False
    last: tuple[float, float, int] | None = None
    for index, item in enumerate(items):
        number, cmd = index + 1, stored_command(item)
        if cmd not in SUPPORTED:
            fail(f"Mission rejected: item {number}: unsupported cmd: {cmd}")
            break  # PX4 stops checking at an invalid item
        if index == 0 and cmd == M.MAV_CMD_NAV_LAND and s.landed:
            fail("Mission rejected: starts with landing")
            break
        has_position = cmd in WITH_POSITION
        if has_position and not gate_failed:
            lat, lon = _latlon(item)
            if last is not None:
                gap_m = geo.distance_m(last[0], last[1], lat, lon)
                gate = M.MAV_CMD_CONDITION_GATE
                if gap_m < GATE_MIN_DISTANCE_M and gate in (cmd, last[2]):
                    gate_failed = fail(
                        f"Distance between waypoint and gate too close: {int(gap_m)} meters"
                    )
            last = (lat, lon, cmd)
        if has_position and not first_failed and not first_found and s.dist_1wp_m > FLT_EPSILON:
            first_found = True
            dist_m = geo.distance_m(*s.position, *_latlon(item))
            if not dist_m < s.dist_1wp_m:
                first_failed = fail(
                    f"First waypoint too far away: {int(dist_m)}m, {int(s.dist_1wp_m)} max"
                )
        if not takeoff_failed:
            if cmd in TAKEOFFS:
                above_home_m = item.z if item.frame in RELATIVE_FRAMES else item.z - home_alt
                if above_home_m < FLT_EPSILON:  # NaN ("keep the altitude") passes, as on PX4
                    takeoff_failed = fail("Mission rejected: Takeoff altitude below home altitude!")
                else:
                    has_takeoff = True
                    if found_position:
                        takeoff_failed = fail("Mission rejected: takeoff not first waypoint item")
            found_position = found_position or cmd not in WITHOUT_POSITION
        if cmd in VTOL_ONLY and not vtol_failed:
            # PX4 says so, but leaves this check out of ``someCheckFailed()``: it still flies
            vtol_failed = note(
                "Mission rejected: Mission contains VTOL items but vehicle is not a VTOL"
            )
        landing = landing or cmd == M.MAV_CMD_NAV_LAND  # a multicopter lands at a LAND item
        if index == len(items) - 1:
            _takeoff_and_landing(s, has_takeoff, landing, fail)
    _geofence(items, s, home_alt, fail)
    return verdict


def _takeoff_and_landing(s: Situation, takeoff: bool, landing: bool, fail: Fail) -> None:
    """``MIS_TKO_LAND_REQ``: the takeoff and landing items the mission must have."""
    req = s.takeoff_land_req
    if req == 5:
        req = 2 if not s.landed else 4
    if req == 1 and not takeoff:
        fail("Mission rejected: Takeoff waypoint required.")
    elif req == 2 and not landing:
        fail("Mission rejected: Landing waypoint/pattern required.")
    elif req == 3 and not (takeoff and landing):
        fail("Mission rejected: Takeoff or Landing item missing.")
    elif req == 4 and takeoff and not landing:
        fail("Mission rejected: Add Landing item or remove Takeoff.")
    elif req == 4 and landing and not takeoff:
        fail("Mission rejected: Add Takeoff item or remove Landing.")


def _geofence(items: Sequence[MissionItem], s: Situation, home_alt: float, fail: Fail) -> None:
    """Every waypoint inside the fence (zones, GF_MAX_HOR_DIST, GF_MAX_VER_DIST)."""
    assert s.home is not None
    home_lat, home_lon, _ = s.home
    for index, item in enumerate(items):
        if stored_command(item) not in WITH_POSITION:
            continue
        lat, lon = _latlon(item)
        alt = _alt_amsl(item, home_alt)
        too_far = (
            s.max_hor_dist_m > 0 and geo.distance_m(home_lat, home_lon, lat, lon) > s.max_hor_dist_m
        )
        too_high = s.max_ver_dist_m > 0 and math.isfinite(alt) and alt > home_alt + s.max_ver_dist_m
        if too_far or too_high or geofence.breached(list(s.zones), lat, lon):
            fail(f"Geofence violation for waypoint {index + 1}")
            return
