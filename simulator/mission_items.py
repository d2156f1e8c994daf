"""What a mission, fence or rally item is: the MISSION_ITEM_INT fields and the MAV_CMD and
MAV_FRAME values the simulator understands. Shared by the vehicle model, which flies
them, and the mission protocol, which transfers them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum


class MissionType(IntEnum):
    """MAV_MISSION_TYPE."""

    MISSION = 0
    FENCE = 1
    RALLY = 2


# MAV_CMD values the model understands.
NAV_WAYPOINT = 16
NAV_LOITER_UNLIM = 17
NAV_LOITER_TIME = 19
NAV_RETURN_TO_LAUNCH = 20
NAV_LAND = 21
NAV_TAKEOFF = 22
NAV_DELAY = 93
DO_JUMP = 177
DO_CHANGE_SPEED = 178

GLOBAL_FRAMES = frozenset({0, 5})
"""MAV_FRAME_GLOBAL(_INT): altitude AMSL."""
RELATIVE_FRAMES = frozenset({3, 6, 10, 11})
"""Relative-altitude frames; terrain frames (10, 11) are treated as relative (flat earth)."""
MISSION_FRAME = 2
"""MAV_FRAME_MISSION: items without a position."""


MAX_ALT_M = 50_000.0
"""Altitudes beyond +-50 km are refused (a MAVLink float can hold far more than a drone)."""


def whole(value: float, default: int = 0) -> int:
    """A float parameter used as an integer (counts, item numbers); NaN and infinities,
    which a hostile or sloppy GCS can send, become ``default``."""
    return int(value) if math.isfinite(value) else default


@dataclass(frozen=True, slots=True)
class MissionItem:
    """A mission, fence or rally item exactly as MISSION_ITEM_INT carries it."""

    seq: int
    frame: int
    command: int
    current: int
    autocontinue: int
    param1: float
    param2: float
    param3: float
    param4: float
    x: int
    """Latitude, degrees * 1e7."""
    y: int
    """Longitude, degrees * 1e7."""
    z: float
    """Altitude, metres (its reference depends on ``frame``)."""
    mission_type: int = 0
