"""QGroundControl ``.plan`` files written for the tests, item by item.

A ``.plan`` says what each item is without the ambiguities of a WPL file's first row, so
tests about progress and resume use it. Positions are metres north/east of ``home``.
"""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

from shared import mav_cmd

HOME = (47.397742, 8.545594, 488.0)
"""The simulator's default home (PX4 SITL's)."""


class Item(NamedTuple):
    """One SimpleItem: a command, where (metres from home; None: no position), params 1-4."""

    command: int
    north_m: float | None = None
    east_m: float = 0.0
    alt_m: float = 15.0
    params: tuple[float | None, ...] = (0, 0, 0, None)


def takeoff(alt_m: float = 15.0) -> Item:
    return Item(mav_cmd.NAV_TAKEOFF, 0.0, 0.0, alt_m)


def waypoint(north_m: float, east_m: float, alt_m: float = 15.0) -> Item:
    return Item(mav_cmd.NAV_WAYPOINT, north_m, east_m, alt_m)


def do(command: int, *params: float) -> Item:
    """An item without a position (DO_CHANGE_SPEED, DO_SET_CAM_TRIGG_DIST, RTL...)."""
    return Item(command, params=(*params, 0, 0, 0, 0)[:4])


def jump(target: int, repeat: int) -> Item:
    """A DO_JUMP to item ``target`` (its index), ``repeat`` times."""
    return do(mav_cmd.DO_JUMP, target, repeat)


def plan(items: list[Item], home: tuple[float, float, float] = HOME) -> bytes:
    """The items as a QGroundControl ``.plan`` for PX4 (DO_JUMP targets as doJumpIds)."""
    lat0, lon0, alt0 = home
    per_deg_lon = 111_320.0 * math.cos(math.radians(lat0))
    out: list[dict[str, Any]] = []
    for seq, item in enumerate(items):
        params: list[float | None] = list(item.params)
        if item.command == mav_cmd.DO_JUMP:
            params[0] = float(params[0] or 0) + 1  # doJumpId = index + 1 below
        position: list[float]
        if item.north_m is None:
            frame, position = 2, [0.0, 0.0, 0.0]
        else:
            lat = lat0 + item.north_m / 111_320.0
            lon = lon0 + item.east_m / per_deg_lon
            frame, position = 3, [round(lat, 7), round(lon, 7), item.alt_m]
        out.append(
            {
                "type": "SimpleItem",
                "autoContinue": True,
                "command": item.command,
                "doJumpId": seq + 1,
                "frame": frame,
                "params": [*params, *position],
            }
        )
    document = {
        "fileType": "Plan",
        "groundStation": "gosd tests",
        "version": 1,
        "mission": {
            "version": 2,
            "firmwareType": 12,
            "vehicleType": 2,
            "cruiseSpeed": 15,
            "hoverSpeed": 5,
            "plannedHomePosition": [lat0, lon0, alt0],
            "items": out,
        },
        "geoFence": {"version": 2, "polygons": [], "circles": []},
        "rallyPoints": {"version": 2, "points": []},
    }
    return json.dumps(document, indent=1).encode()
