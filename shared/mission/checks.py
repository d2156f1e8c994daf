"""Checks every mission item passes, whichever file format it came from.

One function builds a ``MissionItem`` from the seven MAVLink params and says where a value
is wrong through a ``where`` callback (a JSON path for .plan, a line and column for WPL), so
both formats refuse the same things with the same words:

- frames: the global ones and MAV_FRAME_MISSION only (PX4 flies missions in global frames);
- command: a uint16;
- params 1-4: NaN allowed (MAVLink's "use the default"), infinities and values beyond
  float32 refused;
- position items (a command in ``POSITION_COMMANDS`` in a global frame): latitude in
  [-90, 90], longitude in [-180, 180], altitude finite in [MIN_ALT_M, MAX_ALT_M]. A
  missing altitude (NaN, JSON ``null``) is refused with a message of its own, which the
  format supplies: it knows why a tool leaves one out (QGroundControl writes ``null`` for an
  "above terrain" altitude it had no terrain data for);
- a command without a location (``COMMANDS_WITHOUT_LOCATION``: RTL, DO_JUMP,
  DO_CHANGE_SPEED, camera commands...) in a global frame is read in frame 2 (MISSION):
  its frame means nothing, Mission Planner and ArduPilot write 0 or 3 there, and PX4
  takes it only in frame 2;
- frames: terrain frames (10, 11) are valid MAVLink and read as such; whether the vehicle
  flies them is the feasibility check's question, not the parser's;
- other items: param5/6 NaN become 0 (MISSION_ITEM_INT's x/y are integers, MAVSDK does the
  same), they and param7 must be finite or NaN and fit the wire types.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from shared.mission.errors import MissionFileError
from shared.mission.items import (
    COMMANDS_WITHOUT_LOCATION,
    FRAME_MISSION,
    FRAME_NAMES,
    GLOBAL_FRAMES,
    MAX_ALT_M,
    MIN_ALT_M,
    POSITION_COMMANDS,
    MissionItem,
)

Where = Callable[[str], str]
"""Maps a field name (``frame``, ``command``, ``autocontinue``, ``param1``..``param7``) to a
location in the file."""

FLOAT32_MAX = 3.4028234663852886e38
INT32_MAX = 2**31 - 1
_FRAMES_TEXT = ", ".join(f"{k} ({v})" for k, v in FRAME_NAMES.items())


def check_frame(frame: int, where: Where) -> None:
    if frame not in FRAME_NAMES:
        raise MissionFileError(
            where("frame"), f"frame {frame} is not supported in a mission; use {_FRAMES_TEXT}"
        )


def check_command(command: int, where: Where) -> None:
    if not 0 <= command <= 65_535:
        raise MissionFileError(where("command"), f"command {command} is not a MAV_CMD (0..65535)")


def _finite_or_nan(value: float, field: str, where: Where) -> float:
    if math.isnan(value):
        return value
    if math.isinf(value) or abs(value) > FLOAT32_MAX:
        raise MissionFileError(where(field), f"{value!r} is out of range")
    return value


def _raw_int(value: float, field: str, scale: float, where: Where) -> int:
    """x/y of an item without a checked position: NaN is 0 (unset), else must fit int32."""
    if math.isnan(value):
        return 0
    if math.isinf(value) or abs(value * scale) > INT32_MAX:
        raise MissionFileError(where(field), f"{value!r} is out of range")
    return round(value * scale) if scale != 1 else int(value)


MISSING_ALTITUDE = "altitude is missing; set the item's altitude"
"""The message for a position without an altitude, when the format knows no better."""


def check_lat_lon(lat: float, lon: float, where: Where) -> None:
    """Latitude and longitude of a position, degrees."""
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise MissionFileError(where("param5"), f"latitude {lat!r} is not in [-90, 90]")
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise MissionFileError(where("param6"), f"longitude {lon!r} is not in [-180, 180]")


def check_alt(alt_m: float, where: Where, missing: str = MISSING_ALTITUDE) -> None:
    """An altitude (m, any frame); NaN is refused with ``missing``."""
    if math.isnan(alt_m):
        raise MissionFileError(where("param7"), missing)
    if not (math.isfinite(alt_m) and MIN_ALT_M <= alt_m <= MAX_ALT_M):
        raise MissionFileError(
            where("param7"), f"altitude {alt_m!r} m is not in [{MIN_ALT_M:g}, {MAX_ALT_M:g}]"
        )


def check_lat_lon_alt(
    lat: float, lon: float, alt_m: float, where: Where, missing: str = MISSING_ALTITUDE
) -> None:
    """Latitude, longitude and altitude of a position (degrees, degrees, m)."""
    check_lat_lon(lat, lon, where)
    check_alt(alt_m, where, missing)


def make_item(
    *,
    seq: int,
    frame: int,
    command: int,
    autocontinue: int,
    params: tuple[float, float, float, float, float, float, float],
    mission_type: int,
    where: Where,
    missing_alt: str = MISSING_ALTITUDE,
) -> MissionItem:
    """A checked item; ``current`` is 1 for seq 0 (the item the vehicle starts with).

    ``missing_alt`` is the message for a position item without an altitude."""
    check_frame(frame, where)
    check_command(command, where)
    if autocontinue not in (0, 1):
        raise MissionFileError(
            where("autocontinue"), f"autocontinue must be 0 or 1, not {autocontinue}"
        )
    p1, p2, p3, p4 = (_finite_or_nan(params[i], f"param{i + 1}", where) for i in range(4))
    lat, lon, alt = params[4], params[5], params[6]
    if command in COMMANDS_WITHOUT_LOCATION and frame in GLOBAL_FRAMES:
        frame = FRAME_MISSION  # the frame of a command without a location means nothing
    is_global = frame in GLOBAL_FRAMES
    if is_global and command in POSITION_COMMANDS:
        check_lat_lon_alt(lat, lon, alt, where, missing_alt)
        x, y, z = round(lat * 1e7), round(lon * 1e7), alt
    else:
        scale = 1e7 if is_global else 1.0
        x = _raw_int(lat, "param5", scale, where)
        y = _raw_int(lon, "param6", scale, where)
        z = _finite_or_nan(alt, "param7", where)
    return MissionItem(
        seq=seq,
        frame=frame,
        command=command,
        current=1 if seq == 0 else 0,
        autocontinue=autocontinue,
        param1=p1,
        param2=p2,
        param3=p3,
        param4=p4,
        x=x,
        y=y,
        z=z,
        mission_type=mission_type,
    )


def check_count(count: int, what: str, where: str, limit: int) -> None:
    if count > limit:
        raise MissionFileError(where, f"{count} {what} is more than the {limit} allowed")
