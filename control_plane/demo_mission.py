"""The demo's sample mission: a QGroundControl ``.plan`` written around the vehicles' home.

``gosd demo`` stores it as a blob and a plan so its walkthrough flies a real mission on
the simulated drones with nothing to write by hand. It is an ordinary ``.plan`` file (as
QGroundControl saves one), so it also opens in QGroundControl.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from shared import mav_cmd

HOME = (47.397742, 8.545594, 488.0)
"""Latitude (deg), longitude (deg), altitude AMSL (m): PX4 SITL's default home (Zurich)."""

_EARTH_RADIUS_M = 6_371_000.0

# MAVLink ids the file uses
_FRAME_MISSION = 2
"""Items without a position (RTL): PX4 takes them only in this frame."""
_FRAME_GLOBAL_RELATIVE_ALT = 3
_FRAME_MISSION = 2
"""Items without a position (the return): PX4 refuses an RTL in a position frame."""


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point ``north_m``/``east_m`` metres from ``lat``/``lon`` (flat-earth, fine at 1 km)."""
    dlat = math.degrees(north_m / _EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (_EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


def _item(
    seq: int, command: int, params: list[float | None], frame: int = _FRAME_GLOBAL_RELATIVE_ALT
) -> dict[str, Any]:
    return {
        "type": "SimpleItem",
        "autoContinue": True,
        "command": command,
        "doJumpId": seq + 1,
        "frame": frame,
        "params": params,
    }


def sample_plan(
    home: tuple[float, float, float] = HOME, *, side_m: float = 150.0, alt_m: float = 30.0
) -> bytes:
    """A take-off, a square of ``side_m`` flown at ``alt_m`` above home, then return home."""
    lat, lon, amsl = home
    corners = [(side_m, 0.0), (side_m, side_m), (0.0, side_m), (0.0, 0.0)]
    items = [_item(0, mav_cmd.NAV_TAKEOFF, [0, 0, 0, None, lat, lon, alt_m])]
    for north, east in corners:
        wlat, wlon = offset(lat, lon, north, east)
        items.append(_item(len(items), mav_cmd.NAV_WAYPOINT, [0, 0, 0, None, wlat, wlon, alt_m]))
    rtl = _item(len(items), mav_cmd.NAV_RETURN_TO_LAUNCH, [0, 0, 0, 0, 0, 0, 0], _FRAME_MISSION)
    items.append(rtl)
    plan = {
        "fileType": "Plan",
        "groundStation": "gosd",
        "version": 1,
        "geoFence": {"circles": [], "polygons": [], "version": 2},
        "rallyPoints": {"points": [], "version": 2},
        "mission": {
            "version": 2,
            "firmwareType": 12,  # PX4
            "vehicleType": 2,  # quadrotor
            "cruiseSpeed": 15,
            "hoverSpeed": 5,
            "plannedHomePosition": [lat, lon, amsl],
            "items": items,
        },
    }
    return msgspec.json.format(msgspec.json.encode(plan), indent=2)
