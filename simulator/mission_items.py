"""What a mission, fence or rally item is: the MISSION_ITEM_INT fields and the MAV_CMD and
MAV_FRAME values the simulator understands. Shared by the vehicle model, which flies
them, and the mission protocol, which transfers them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

from pymavlink.dialects.v20 import common as mavlink


class MissionType(IntEnum):
    """MAV_MISSION_TYPE."""

    MISSION = mavlink.MAV_MISSION_TYPE_MISSION
    FENCE = mavlink.MAV_MISSION_TYPE_FENCE
    RALLY = mavlink.MAV_MISSION_TYPE_RALLY


# MAV_CMD values the model understands, named as the model uses them (pymavlink's numbers).
NAV_WAYPOINT: int = mavlink.MAV_CMD_NAV_WAYPOINT
NAV_LOITER_UNLIM: int = mavlink.MAV_CMD_NAV_LOITER_UNLIM
NAV_LOITER_TIME: int = mavlink.MAV_CMD_NAV_LOITER_TIME
NAV_RETURN_TO_LAUNCH: int = mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH
NAV_LAND: int = mavlink.MAV_CMD_NAV_LAND
NAV_TAKEOFF: int = mavlink.MAV_CMD_NAV_TAKEOFF
NAV_DELAY: int = mavlink.MAV_CMD_NAV_DELAY
NAV_LOITER_TO_ALT: int = mavlink.MAV_CMD_NAV_LOITER_TO_ALT
NAV_VTOL_TAKEOFF: int = mavlink.MAV_CMD_NAV_VTOL_TAKEOFF
NAV_VTOL_LAND: int = mavlink.MAV_CMD_NAV_VTOL_LAND
CONDITION_GATE: int = mavlink.MAV_CMD_CONDITION_GATE
DO_JUMP: int = mavlink.MAV_CMD_DO_JUMP
DO_CHANGE_SPEED: int = mavlink.MAV_CMD_DO_CHANGE_SPEED

GLOBAL_FRAMES = frozenset({mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_INT})
"""MAV_FRAME_GLOBAL(_INT): altitude AMSL."""
RELATIVE_FRAMES = frozenset(
    {mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT}
)
"""Altitude above home. Terrain frames are not here: PX4 refuses them at upload
(``item_acceptance.py``), so no item in them ever reaches the model."""
MISSION_FRAME: int = mavlink.MAV_FRAME_MISSION
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
