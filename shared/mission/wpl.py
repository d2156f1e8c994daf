"""``QGC WPL 110`` text files (QGroundControl's and Mission Planner's waypoint lists).

A header line ``QGC WPL 110``, then one row per item, fields separated by tabs or spaces:
``index current frame command p1 p2 p3 p4 lat lon alt autocontinue``. Blank lines are
ignored; anything else that is not 12 well-formed numbers is refused with its line and column.

Two flavours exist and both are kept whole:

- QGroundControl and Mission Planner write the vehicle's home as row 0: ``current`` 1,
  frame 0 (GLOBAL: altitude AMSL, which is what a home is) and command 16 (NAV_WAYPOINT).
  Such a row becomes ``home``, not an item: PX4 keeps home outside the mission.
- Other files (MAVSDK's sample, hand-written ones) start with a real item, e.g. a NAV_TAKEOFF
  in frame 5 marked current. Row 0 is then the first mission item.

Only the exact home signature (current 1, frame 0, command 16) is taken as home, so no
real item is dropped by a guess. Indexes must be 0, 1, 2, ... in order. A DO_JUMP's param1 is
a row index in the file; where row 0 was home, it is shifted down by one to the item's
sequence number (and jumping to home is refused). ``current`` must be 0 or 1; it is
normalised to 1 on the first item only. Numbers are plain decimals (``nan`` allowed where a
param may be unset); forms Python alone accepts (``1_0``, ``inf``, non-ASCII digits) are refused.
"""

from __future__ import annotations

import math
import re

from shared import mav_cmd
from shared.mission.checks import Where, check_count, make_item
from shared.mission.errors import MissionFileError
from shared.mission.items import (
    FRAME_GLOBAL,
    MAX_ITEMS,
    MISSION_TYPE_MISSION,
    MissionFile,
    MissionItem,
)

HEADER = "QGC WPL 110"
COLUMNS = (
    "index",
    "current",
    "frame",
    "command",
    "param1",
    "param2",
    "param3",
    "param4",
    "latitude",
    "longitude",
    "altitude",
    "autocontinue",
)
_FIELD_COLUMN = {
    "frame": 3,
    "command": 4,
    "param1": 5,
    "param2": 6,
    "param3": 7,
    "param4": 8,
    "param5": 9,
    "param6": 10,
    "param7": 11,
    "autocontinue": 12,
}
_INT = re.compile(r"[+-]?[0-9]{1,10}")
_FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?|[+-]?nan", re.I)


def _where(line: int, column: int) -> str:
    return f"line {line}, column {column} ({COLUMNS[column - 1]})"


def _field_where(line: int) -> Where:
    return lambda field: _where(line, _FIELD_COLUMN[field])


def _parse_row(text: str, line: int) -> tuple[list[int], list[float]]:
    fields = text.split()
    if len(fields) != len(COLUMNS):
        raise MissionFileError(
            f"line {line}", f"has {len(fields)} fields, a waypoint row has {len(COLUMNS)}"
        )
    ints: list[int] = []
    floats: list[float] = []
    for column, field in enumerate(fields, 1):
        is_int = column in (1, 2, 3, 4, 12)
        pattern = _INT if is_int else _FLOAT
        if not pattern.fullmatch(field):
            kind = "an integer" if is_int else "a number"
            raise MissionFileError(_where(line, column), f"{field[:40]!r} is not {kind}")
        if is_int:
            ints.append(int(field))
        else:
            value = float(field)
            if math.isinf(value):
                raise MissionFileError(_where(line, column), f"{field[:40]!r} is out of range")
            floats.append(value)
    return ints, floats


def parse_wpl(text: str) -> MissionFile:
    """Parse a ``QGC WPL 110`` file; raises ``MissionFileError`` naming line and column."""
    lines = text.split("\n")  # line numbers as an editor counts them
    first = next((n for n, line in enumerate(lines) if line.strip()), 0)
    header = lines[first].strip() if lines else ""
    if header != HEADER:
        raise MissionFileError(
            f"line {first + 1}", f"header {header[:40]!r} is not supported (supported: {HEADER!r})"
        )
    rows: list[tuple[int, list[int], list[float]]] = []
    for number, raw in enumerate(lines[first + 1 :], first + 2):
        if not raw.strip():
            continue
        if len(rows) > MAX_ITEMS:  # one more row than items: a home row
            raise MissionFileError(f"line {number}", f"more than the {MAX_ITEMS} items allowed")
        ints, floats = _parse_row(raw, number)
        if ints[0] != len(rows):
            raise MissionFileError(
                _where(number, 1), f"index {ints[0]} should be {len(rows)} (consecutive from 0)"
            )
        if ints[1] not in (0, 1):
            raise MissionFileError(_where(number, 2), f"current must be 0 or 1, not {ints[1]}")
        rows.append((number, ints, floats))
    home: tuple[float, float, float] | None = None
    if rows and rows[0][1][1:4] == [1, FRAME_GLOBAL, mav_cmd.NAV_WAYPOINT]:
        number, _, floats = rows[0]
        make_item(  # checked as the position it is
            seq=0,
            frame=FRAME_GLOBAL,
            command=mav_cmd.NAV_WAYPOINT,
            autocontinue=1,
            params=(0.0, 0.0, 0.0, 0.0, floats[4], floats[5], floats[6]),
            mission_type=MISSION_TYPE_MISSION,
            where=_field_where(number),
        )
        home = (floats[4], floats[5], floats[6])
        rows = rows[1:]
    if not rows:
        raise MissionFileError("file", "no mission items")
    check_count(len(rows), "items", "file", MAX_ITEMS)
    shift = 1 if home is not None else 0
    items: list[MissionItem] = []
    for seq, (number, ints, floats) in enumerate(rows):
        params = (floats[0], floats[1], floats[2], floats[3], floats[4], floats[5], floats[6])
        if ints[3] == mav_cmd.DO_JUMP:
            target = floats[0]
            if not (math.isfinite(target) and target.is_integer()) or not (
                0 <= int(target) - shift < len(rows)
            ):
                raise MissionFileError(
                    _where(number, 5), f"DO_JUMP target {target!r} is no mission item's index"
                )
            params = (target - shift, *params[1:])
        items.append(
            make_item(
                seq=seq,
                frame=ints[2],
                command=ints[3],
                autocontinue=ints[4],
                params=params,
                mission_type=MISSION_TYPE_MISSION,
                where=_field_where(number),
            )
        )
    return MissionFile(
        format="wpl",
        mission=items,
        fence=[],
        rally=[],
        home=home,
        locations=[f"line {number}" for number, _, _ in rows],
    )
