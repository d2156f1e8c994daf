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
