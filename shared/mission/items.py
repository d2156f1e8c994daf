"""What a parsed mission file is: MAVLink ``MISSION_ITEM_INT`` items, and the constants
needed to check them.

The items are what MAVSDK's ``MissionRaw.MissionItem`` takes, field for field, so the edge
agent uploads them without another translation; both file formats end up here.
"""

from __future__ import annotations

import msgspec

from shared import mav_cmd

# MAV_MISSION_TYPE
MISSION_TYPE_MISSION = 0
MISSION_TYPE_FENCE = 1
MISSION_TYPE_RALLY = 2

# MAV_FRAME values a mission may use. Global frames carry latitude/longitude in x/y
# (degrees * 1e7 in MISSION_ITEM_INT); MAV_FRAME_MISSION (2) is for items with no position.
# Local frames (1, 4, 7-9, 12+) are refused: PX4's mission mode flies global frames only.
FRAME_GLOBAL = 0
FRAME_MISSION = 2
FRAME_GLOBAL_RELATIVE_ALT = 3
FRAME_NAMES: dict[int, str] = {
    0: "GLOBAL",
    2: "MISSION",
    3: "GLOBAL_RELATIVE_ALT",
    5: "GLOBAL_INT",
    6: "GLOBAL_RELATIVE_ALT_INT",
    10: "GLOBAL_TERRAIN_ALT",
    11: "GLOBAL_TERRAIN_ALT_INT",
}
GLOBAL_FRAMES = frozenset(FRAME_NAMES) - {FRAME_MISSION}

COMMANDS_WITHOUT_LOCATION = frozenset(
    {
        mav_cmd.NAV_RETURN_TO_LAUNCH,
        mav_cmd.NAV_GUIDED_ENABLE,
        mav_cmd.NAV_DELAY,
        mav_cmd.CONDITION_DELAY,
        mav_cmd.CONDITION_DISTANCE,
        mav_cmd.CONDITION_YAW,
        mav_cmd.DO_SET_MODE,
        mav_cmd.DO_JUMP,
        mav_cmd.DO_CHANGE_SPEED,
        mav_cmd.DO_SET_PARAMETER,
        mav_cmd.DO_SET_RELAY,
        mav_cmd.DO_REPEAT_RELAY,
        mav_cmd.DO_SET_SERVO,
        mav_cmd.DO_REPEAT_SERVO,
        mav_cmd.DO_FLIGHTTERMINATION,
        mav_cmd.DO_SET_ACTUATOR,
        mav_cmd.DO_GO_AROUND,
        mav_cmd.DO_PAUSE_CONTINUE,
        mav_cmd.DO_SET_ROI_WPNEXT_OFFSET,
        mav_cmd.DO_SET_ROI_NONE,
        mav_cmd.DO_CONTROL_VIDEO,
        mav_cmd.DO_DIGICAM_CONFIGURE,
        mav_cmd.DO_DIGICAM_CONTROL,
        mav_cmd.DO_MOUNT_CONFIGURE,
        mav_cmd.DO_MOUNT_CONTROL,
        mav_cmd.DO_SET_CAM_TRIGG_DIST,
        mav_cmd.DO_FENCE_ENABLE,
        mav_cmd.DO_PARACHUTE,
        mav_cmd.DO_GRIPPER,
        mav_cmd.DO_AUTOTUNE_ENABLE,
        mav_cmd.NAV_SET_YAW_SPEED,
        mav_cmd.DO_SET_CAM_TRIGG_INTERVAL,
        mav_cmd.DO_SET_RESUME_REPEAT_DIST,
        mav_cmd.DO_SPRAYER,
        mav_cmd.DO_SEND_SCRIPT_MESSAGE,
        mav_cmd.DO_AUX_FUNCTION,
        mav_cmd.DO_GUIDED_LIMITS,
        mav_cmd.DO_ENGINE_CONTROL,
        mav_cmd.DO_SET_MISSION_CURRENT,
        mav_cmd.OBLIQUE_SURVEY,
        mav_cmd.COMPONENT_ARM_DISARM,
        mav_cmd.SET_CAMERA_MODE,
        mav_cmd.SET_CAMERA_ZOOM,
        mav_cmd.SET_CAMERA_FOCUS,
        mav_cmd.SET_CAMERA_SOURCE,
        mav_cmd.JUMP_TAG,
        mav_cmd.DO_JUMP_TAG,
        mav_cmd.DO_GIMBAL_MANAGER_PITCHYAW,
        mav_cmd.DO_GIMBAL_MANAGER_CONFIGURE,
        mav_cmd.IMAGE_START_CAPTURE,
        mav_cmd.IMAGE_STOP_CAPTURE,
        mav_cmd.DO_TRIGGER_CONTROL,
        mav_cmd.VIDEO_START_CAPTURE,
        mav_cmd.VIDEO_STOP_CAPTURE,
        mav_cmd.DO_VTOL_TRANSITION,
        mav_cmd.DO_WINCH,
        mav_cmd.NAV_SCRIPT_TIME,
        mav_cmd.NAV_ATTITUDE_TIME,
    }
)
"""Commands MAVLink marks ``hasLocation="false"``: their frame carries no meaning, and the
tools write what they like there (QGroundControl frame 2, Mission Planner and ArduPilot
frame 0 or 3). Read from a file, such an item is sent in frame 2 (MISSION), as
QGroundControl sends it and as PX4's upload requires, with its params 5-7 as plain
numbers: an RTL in frame 3 means the same RTL. Left out: the commands whose param 7 is an
altitude (CONDITION_CHANGE_ALT, NAV_CONTINUE_AND_CHANGE_ALT, NAV_ALTITUDE_WAIT), for which
the frame does say what the altitude is measured from."""

FENCE_POLYGON_COMMANDS = frozenset(
    {mav_cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION, mav_cmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION}
)
"""Vertices of a fence polygon (param1: the polygon's vertex count)."""
FENCE_CIRCLE_COMMANDS = frozenset(
    {mav_cmd.NAV_FENCE_CIRCLE_INCLUSION, mav_cmd.NAV_FENCE_CIRCLE_EXCLUSION}
)
"""Fence circles (param1: radius, m)."""
FENCE_COMMANDS = FENCE_POLYGON_COMMANDS | FENCE_CIRCLE_COMMANDS | {mav_cmd.NAV_FENCE_RETURN_POINT}
"""Every command of a geofence (MAV_MISSION_TYPE_FENCE); never a mission item."""
RALLY_COMMANDS = frozenset({mav_cmd.NAV_RALLY_POINT})
"""The command of a rally point (MAV_MISSION_TYPE_RALLY); never a mission item."""

POSITION_COMMANDS = frozenset(
    {
        mav_cmd.NAV_WAYPOINT,
        mav_cmd.NAV_LOITER_UNLIM,
        mav_cmd.NAV_LOITER_TURNS,
        mav_cmd.NAV_LOITER_TIME,
        mav_cmd.NAV_LAND,
        mav_cmd.NAV_TAKEOFF,
        mav_cmd.NAV_LOITER_TO_ALT,
        mav_cmd.NAV_SPLINE_WAYPOINT,
        mav_cmd.NAV_VTOL_TAKEOFF,
        mav_cmd.NAV_VTOL_LAND,
        mav_cmd.DO_SET_ROI_LOCATION,
        *FENCE_COMMANDS,
        *RALLY_COMMANDS,
    }
)
"""Commands whose x/y are a latitude/longitude and z an altitude when the frame is global."""

MAX_ITEMS = 10_000
"""Most items of one kind (mission, fence or rally) a file may hold; PX4 stores far fewer."""
MAX_FILE_BYTES = 4 * 1024 * 1024
"""Largest file accepted: QGroundControl writes ~420 bytes per item, so this holds about
``MAX_ITEMS`` items (far more than PX4 stores); parsing that much takes ~150 ms."""
MIN_ALT_M = -1_000.0
MAX_ALT_M = 10_000.0
"""Altitudes outside this range (m, any frame) are typing errors, not missions."""


class MissionItem(msgspec.Struct, frozen=True):
    """One MAVLink MISSION_ITEM_INT, as MAVSDK's MissionRaw.MissionItem takes it."""

    seq: int
    """Position in its list (0..n-1), home not included."""
    frame: int
    """MAV_FRAME."""
    command: int
    """MAV_CMD."""
    current: int
    """1 for the first item of the list, else 0."""
    autocontinue: int
    """1 to go on to the next item when this one is done."""
    param1: float
    param2: float
    param3: float
    param4: float
    x: int
    """Latitude * 1e7 in global frames, else the raw param5 (NaN as 0)."""
    y: int
    """Longitude * 1e7 in global frames, else the raw param6 (NaN as 0)."""
    z: float
    """Altitude (m) in global frames, else param7 (may be NaN)."""
    mission_type: int
    """MAV_MISSION_TYPE: 0 mission, 1 fence, 2 rally."""


class MissionFile(msgspec.Struct, frozen=True):
    """A parsed, validated mission file."""

    format: str
    """``"qgc_plan"`` or ``"wpl"``."""
    mission: list[MissionItem]
    """Mission items, seq 0..n-1, home not included; never empty."""
    fence: list[MissionItem]
    """Geofence items (mission_type 1): polygon vertices and circles."""
    rally: list[MissionItem]
    """Rally points (mission_type 2)."""
    home: tuple[float, float, float] | None
    """(lat_deg, lon_deg, alt_m AMSL) when the file has a home position, else None (a file
    without one, or Mission Planner's "no home" at latitude 0, longitude 0). The altitude
    is NaN when the file gives the position but not its altitude above sea level (a WPL
    home row in a relative frame, a .plan ``plannedHomePosition`` with a ``null``
    altitude): it means "the vehicle's home", known only once the vehicle sets it. The
    home is never uploaded (PX4 sets its own); checks that compare altitudes with it must
    treat NaN as unknown."""
    cruise_speed_m_s: float | None = None
    """The flight speed the file asks for, if any."""
    locations: list[str] = []
    """Where each mission item is in the file (``mission.items[3]``, ``line 7``), in the
    order of ``mission``: checks of the items as a whole (``shared.mission`` feasibility)
    name the place the operator edits, not a sequence number."""

    def where(self, seq: int) -> str:
        """The location of mission item ``seq`` in the file, e.g. ``line 7 (item 5)``."""
        place = self.locations[seq] if 0 <= seq < len(self.locations) else "mission"
        return f"{place} (item {seq})"

    def summary(self) -> str:
        """A line for people, e.g. ``12 items, 1 fence polygon, 2 rally points``."""
        return ", ".join([_count(len(self.mission), "item"), *geo_summary(self.fence, self.rally)])


def is_unplaced_takeoff(item: MissionItem) -> bool:
    """A NAV_TAKEOFF at latitude 0, longitude 0: "climb where the vehicle stands".

    ArduPilot ignores a takeoff's position, and Mission Planner and MAVProxy write 0, 0
    there; PX4 reads 0 deg, 0 deg as a place (its first waypoint would be thousands of
    kilometres away, and its check refuses the mission). Such a takeoff gets the home's
    position: the file's when it has one (``place_takeoffs``), else the vehicle's, which
    the agent gives it before upload; until then it is no position to check."""
    return item.command == mav_cmd.NAV_TAKEOFF and item.x == 0 and item.y == 0


def place_takeoffs(items: list[MissionItem], lat_deg: float, lon_deg: float) -> list[MissionItem]:
    """``items`` with each unplaced takeoff (``is_unplaced_takeoff``) put at the home
    ``lat_deg``/``lon_deg``; the same list when there is none."""
    if not any(is_unplaced_takeoff(item) for item in items):
        return items
    x, y = round(lat_deg * 1e7), round(lon_deg * 1e7)
    return [
        msgspec.structs.replace(item, x=x, y=y) if is_unplaced_takeoff(item) else item
        for item in items
    ]


def geo_summary(fence: list[MissionItem], rally: list[MissionItem]) -> list[str]:
    """What a geofence and rally points hold, for people: ``["2 fence polygons", ...]``."""
    polygons = circles = returns = remaining = 0
    for item in fence:
        if item.command in FENCE_POLYGON_COMMANDS:
            if remaining <= 0:  # the first vertex of a polygon says how many follow
                polygons += 1
                remaining = int(item.param1)
            remaining -= 1
        elif item.command in FENCE_CIRCLE_COMMANDS:
            circles += 1
            remaining = 0
        elif item.command == mav_cmd.NAV_FENCE_RETURN_POINT:
            returns += 1
            remaining = 0
    parts = []
    if polygons:
        parts.append(_count(polygons, "fence polygon"))
    if circles:
        parts.append(_count(circles, "fence circle"))
    if returns:
        parts.append(_count(returns, "fence return point"))
    if rally:
        parts.append(_count(len(rally), "rally point"))
    return parts


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
