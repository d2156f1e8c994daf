"""``QGC WPL 110`` text files, read as the tools that write them mean them.

A header line ``QGC WPL 110``, then one row per item, fields separated by tabs or spaces:
``index current frame command p1 p2 p3 p4 lat lon alt autocontinue``. QGroundControl,
Mission Planner, MAVProxy and ArduPilot all write it; QGroundControl's loader
(``MissionController::_loadTextMissionFile``) and pymavlink's (``mavwp.py``, which MAVProxy
and ArduPilot's tools use) agree on what it means, and so do we:

- **Row 0 is the vehicle's home**, whatever its ``current`` flag: QGroundControl and
  Mission Planner write it with ``current 1``, MAVProxy and ArduPilot with ``current 0``,
  Mission Planner sometimes with command 0 (pymavlink reads that as NAV_WAYPOINT). It
  becomes ``home``, never a mission item: PX4 keeps home outside the mission, and an
  ArduPilot vehicle overwrites item 0 with its own home. Its altitude is above sea level
  when its frame is 0 or 5 (GLOBAL, GLOBAL_INT); in any other frame it is unknown (NaN,
  "the vehicle's home"). Latitude 0 and longitude 0 is Mission Planner's "no home
  position": ``home`` is then None.
- **Row 0 must be a home row** (command 16 or 0). A file that starts with anything else,
  e.g. MAVSDK's ``mission_planner_sample.txt`` whose row 0 is a NAV_TAKEOFF, means two
  things: QGroundControl, Mission Planner and ArduPilot take that row as the home and fly
  without it, MAVSDK's importer flies it. It is refused, saying so, rather than flown in
  a way its author may not have meant.
- **Comment lines** (first non-blank character ``#``; pymavlink writes an item's comment
  so) and blank lines are skipped.
- **The index column is not trusted**: rows are numbered by position, home = 0, as
  pymavlink's loader does (it renumbers on load). A DO_JUMP's param1 names a row by that
  position, as ArduPilot receives it from pymavlink; it becomes the target's mission
  sequence number (home is not a mission item). A jump to the home row, a fence or rally
  row, or past the last row is refused.
- **Fence and rally rows** (commands 5000-5004 and 5100) are never mission items, wherever
  they are: MAVProxy's ``fence save`` and ``rally save`` write this same format. They
  become ``fence`` and ``rally`` items. Fence vertices and circles take the shape the .plan
  reader gives them (frame GLOBAL, param1 the vertex count or the radius, no altitude);
  the vertices of a polygon are consecutive fence rows of one command, as many as their
  param1 says (at least 3), as ArduPilot and QGroundControl read them. A
  NAV_FENCE_RETURN_POINT (5000; at most one) is kept as the fence item it is, with its
  frame and altitude: ArduPlane flies to it on a breach, PX4 accepts and ignores it (its
  geofence action, GF_ACTION, decides what a breach does), as QGroundControl sends it. A
  file whose row 0 is a fence or rally row has no home row (those lists have none).
- A file with no mission items is refused: a home alone flies nothing, and a file of
  fence or rally rows is a geofence or rally point file, not a mission.
- ``current`` must be 0 or 1 (it is normalised to 1 on each list's first item). Numbers
  are plain decimals (``nan`` allowed where a param may be unset); forms Python alone
  accepts (``1_0``, ``inf``, non-ASCII digits) are refused. A position without an altitude
  (``nan``) is refused with a message saying so.

Every message names the line as an editor counts it (comments and blank lines included)
and the column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import NamedTuple, NoReturn

from shared import mav_cmd
from shared.mission.checks import Where, check_count, check_lat_lon, make_item
from shared.mission.errors import MissionFileError
from shared.mission.items import (
    FENCE_CIRCLE_COMMANDS,
    FENCE_COMMANDS,
    FENCE_POLYGON_COMMANDS,
    FRAME_GLOBAL,
    GLOBAL_FRAMES,
    MAX_ALT_M,
    MAX_ITEMS,
    MIN_ALT_M,
    MISSION_TYPE_FENCE,
    MISSION_TYPE_MISSION,
    MISSION_TYPE_RALLY,
    RALLY_COMMANDS,
    MissionFile,
    MissionItem,
    geo_summary,
    place_takeoffs,
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
_HOME_COMMANDS = (mav_cmd.NAV_WAYPOINT, 0)
"""What a home row's command is: NAV_WAYPOINT, or 0 as Mission Planner writes it."""
_AMSL_FRAMES = (0, 5)
"""GLOBAL and GLOBAL_INT: altitude above mean sea level."""
_MISSING_ALT = "altitude is missing (nan); set the item's altitude"
_COMMAND_NAMES = {
    value: name
    for name, value in vars(mav_cmd).items()
    if name.isupper() and isinstance(value, int)
}


class _Row(NamedTuple):
    """One data row: its line number, and its fields as read."""

    line: int
    ints: list[int]
    """index, current, frame, command, autocontinue."""
    floats: list[float]
    """param1..param4, latitude, longitude, altitude."""
    kind: str
    """``mission``, ``fence`` or ``rally``: which list the row's command belongs to."""

    @property
    def frame(self) -> int:
        return self.ints[2]

    @property
    def command(self) -> int:
        return self.ints[3]


def _where(line: int, column: int) -> str:
    return f"line {line}, column {column} ({COLUMNS[column - 1]})"


def _field_where(line: int) -> Where:
    return lambda field: _where(line, _FIELD_COLUMN[field])


def _command_name(command: int) -> str:
    name = _COMMAND_NAMES.get(command)
    return f"{name} (command {command})" if name else f"command {command}"


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


def _kind(command: int) -> str:
    if command in FENCE_COMMANDS:
        return "fence"
    if command in RALLY_COMMANDS:
        return "rally"
    return "mission"


def _check_counts(lines: Sequence[str], first_line: int) -> None:
    """Refuse a file with too many rows of one kind from their command column alone,
    before any row is parsed in full: 4 MiB holds ~120,000 rows, and parsing 10,000 of
    them costs more than this look (malformed rows are left to the full parse)."""
    counts = {"mission": 0, "fence": 0, "rally": 0}
    nouns = {"mission": "items", "fence": "fence items", "rally": "rally points"}
    for number, raw in enumerate(lines, first_line):
        fields = raw.split(None, 4)
        if len(fields) < 4 or fields[0].startswith("#") or not _INT.fullmatch(fields[3]):
            continue
        kind = _kind(int(fields[3]))
        counts[kind] += 1
        allowed = MAX_ITEMS + 1 if kind == "mission" else MAX_ITEMS  # + a home row
        if counts[kind] > allowed:
            raise MissionFileError(
                f"line {number}", f"more than the {MAX_ITEMS} {nouns[kind]} allowed"
            )


def _read_rows(text: str) -> list[_Row]:
    """The data rows after the header, comments and blank lines skipped."""
    lines = text.split("\n")  # line numbers as an editor counts them
    first = next((n for n, line in enumerate(lines) if line.strip()), 0)
    header = lines[first].strip() if lines else ""
    if header != HEADER:
        raise MissionFileError(
            f"line {first + 1}", f"header {header[:40]!r} is not supported (supported: {HEADER!r})"
        )
    _check_counts(lines[first + 1 :], first + 2)
    rows: list[_Row] = []
    for number, raw in enumerate(lines[first + 1 :], first + 2):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        ints, floats = _parse_row(stripped, number)
        if ints[1] not in (0, 1):
            raise MissionFileError(_where(number, 2), f"current must be 0 or 1, not {ints[1]}")
        rows.append(_Row(number, ints, floats, _kind(ints[3])))
    return rows


def _home(row: _Row) -> tuple[float, float, float] | None:
    """The home row's position; None for Mission Planner's "no home" (0, 0)."""
    if row.command not in _HOME_COMMANDS:
        raise MissionFileError(
            _where(row.line, 4),
            f"row 0 of a QGC WPL 110 file is the home position (QGroundControl, Mission "
            f"Planner and ArduPilot read it so), but this one is a "
            f"{_command_name(row.command)}: they would drop it, MAVSDK would fly it. "
            "Put a home row first (command 16; latitude and longitude 0 if the home is "
            "not known) and the mission after it",
        )
    lat, lon, alt = row.floats[4], row.floats[5], row.floats[6]
    if lat == 0 and lon == 0:
        return None
    where = _field_where(row.line)
    check_lat_lon(lat, lon, where)
    if row.frame not in _AMSL_FRAMES:
        return (lat, lon, math.nan)  # relative to itself: its height above sea is unknown
    if not math.isnan(alt) and not MIN_ALT_M <= alt <= MAX_ALT_M:
        raise MissionFileError(
            where("param7"),
            f"home altitude {alt!r} m (above sea level) is not in [{MIN_ALT_M:g}, {MAX_ALT_M:g}]",
        )
    return (lat, lon, alt)


def _jump_target(row: _Row, rows: Sequence[_Row], seq_of_position: dict[int, int]) -> float:
    """A DO_JUMP's param1 (a row position, home = 0) as the target's sequence number."""
    target = row.floats[0]
    where = _where(row.line, 5)
    if not (math.isfinite(target) and target.is_integer() and 0 <= target < len(rows)):
        raise MissionFileError(
            where,
            f"DO_JUMP target {target!r} is no row of the file (rows count from 0, the home "
            "row; comments and blank lines do not count)",
        )
    position = int(target)
    if position not in seq_of_position:
        what = "the home row" if position == 0 else f"a {rows[position].kind} row"
        raise MissionFileError(
            where,
            f"DO_JUMP target {position} is {what} (line {rows[position].line}), not a mission item",
        )
    return float(seq_of_position[position])


def _mission(rows: Sequence[_Row], body: Sequence[tuple[int, _Row]]) -> list[MissionItem]:
    seq_of_position = {position: seq for seq, (position, _) in enumerate(body)}
    items: list[MissionItem] = []
    for seq, (_, row) in enumerate(body):
        p = row.floats
        params = (p[0], p[1], p[2], p[3], p[4], p[5], p[6])
        if row.command == mav_cmd.DO_JUMP:
            params = (_jump_target(row, rows, seq_of_position), *params[1:])
        items.append(
            make_item(
                seq=seq,
                frame=row.frame,
                command=row.command,
                autocontinue=row.ints[4],
                params=params,
                mission_type=MISSION_TYPE_MISSION,
                where=_field_where(row.line),
                missing_alt=_MISSING_ALT,
            )
        )
    return items


def _global_frame(row: _Row, what: str) -> None:
    if row.frame not in GLOBAL_FRAMES:
        raise MissionFileError(
            _where(row.line, 3), f"a {what} needs a global frame (0, 3, 5, 6), not {row.frame}"
        )


def _geo_item(seq: int, row: _Row, mission_type: int, **fields: float) -> MissionItem:
    """A fence or rally item from its row; ``fields`` override frame, param1 and altitude."""
    p = row.floats
    return make_item(
        seq=seq,
        frame=int(fields.get("frame", row.frame)),
        command=row.command,
        autocontinue=0,
        params=(
            fields.get("param1", p[0]),
            fields.get("param2", p[1]),
            fields.get("param3", p[2]),
            fields.get("param4", p[3]),
            p[4],
            p[5],
            fields.get("alt", p[6]),
        ),
        mission_type=mission_type,
        where=_field_where(row.line),
        missing_alt=_MISSING_ALT,
    )


def _fence(rows: Sequence[_Row]) -> list[MissionItem]:
    """Fence rows (in file order) as fence items, polygons checked whole."""
    items: list[MissionItem] = []
    return_point: _Row | None = None
    i = 0
    while i < len(rows):
        row = rows[i]
        _global_frame(row, "fence item")
        shape = {"frame": FRAME_GLOBAL, "param2": 0.0, "param3": 0.0, "param4": 0.0, "alt": 0.0}
        if row.command in FENCE_POLYGON_COMMANDS:
            polygon = _polygon(rows, i)
            first_seq = len(items)
            items.extend(
                _geo_item(first_seq + j, vertex, MISSION_TYPE_FENCE, **shape)
                for j, vertex in enumerate(polygon)
            )
            i += len(polygon)
            continue
        if row.command in FENCE_CIRCLE_COMMANDS:
            radius = row.floats[0]
            if not (math.isfinite(radius) and 0 < radius <= 1e6):
                raise MissionFileError(
                    _where(row.line, 5), f"fence circle radius {radius!r} m is not in (0, 1e6]"
                )
            items.append(_geo_item(len(items), row, MISSION_TYPE_FENCE, **shape))
        else:  # NAV_FENCE_RETURN_POINT, kept as written
            if return_point is not None:
                raise MissionFileError(
                    _where(row.line, 4),
                    f"a geofence has one return point; the first is at line {return_point.line}",
                )
            return_point = row
            zeros = {"param1": 0.0, "param2": 0.0, "param3": 0.0, "param4": 0.0}
            items.append(_geo_item(len(items), row, MISSION_TYPE_FENCE, **zeros))
        i += 1
    return items


def _polygon(rows: Sequence[_Row], start: int) -> Sequence[_Row]:
    """The rows of the polygon whose first vertex is ``rows[start]``."""
    first = rows[start]
    count = first.floats[0]
    if not (math.isfinite(count) and count.is_integer() and 3 <= count <= MAX_ITEMS):
        raise MissionFileError(
            _where(first.line, 5),
            f"a fence polygon vertex says how many vertices its polygon has (3 or more), "
            f"not {count!r}",
        )
    polygon = rows[start : start + int(count)]
    for n, vertex in enumerate(polygon):
        if vertex.command != first.command or vertex.floats[0] != count:
            raise MissionFileError(
                f"line {vertex.line}",
                f"the {int(count)}-vertex fence polygon that begins at line {first.line} "
                f"ends after {n} vertices: each of its vertices is a "
                f"{_command_name(first.command)} row with param1 {int(count)}",
            )
    if len(polygon) < count:
        raise MissionFileError(
            f"line {polygon[-1].line}",
            f"the {int(count)}-vertex fence polygon that begins at line {first.line} has "
            f"only {len(polygon)} vertices",
        )
    return polygon


def _rally(rows: Sequence[_Row]) -> list[MissionItem]:
    items: list[MissionItem] = []
    for row in rows:
        _global_frame(row, "rally point")
        items.append(_geo_item(len(items), row, MISSION_TYPE_RALLY))
    return items


def _no_mission(
    home_row: _Row | None, fence: list[MissionItem], rally: list[MissionItem]
) -> NoReturn:
    if fence or rally:
        kind = " and ".join(
            name for name, items in (("geofence", fence), ("rally point", rally)) if items
        )
        held = ", ".join(geo_summary(fence, rally))
        raise MissionFileError(
            "file",
            f"this is a {kind} file ({held}), not a mission: it has no mission items to fly",
        )
    if home_row is not None:
        raise MissionFileError(
            "file",
            f"the file holds only the home position (row 0, line {home_row.line}), "
            "no mission items",
        )
    raise MissionFileError("file", "no mission items")


def parse_wpl(text: str) -> MissionFile:
    """Parse a ``QGC WPL 110`` file; raises ``MissionFileError`` naming line and column."""
    rows = _read_rows(text)
    has_home_row = bool(rows) and rows[0].kind == "mission"
    home_row = rows[0] if has_home_row else None
    home = _home(home_row) if home_row is not None else None
    start = 1 if has_home_row else 0
    body = [(n, row) for n, row in enumerate(rows) if n >= start and row.kind == "mission"]
    fence = _fence([row for row in rows if row.kind == "fence"])
    rally = _rally([row for row in rows if row.kind == "rally"])
    if not body:
        _no_mission(home_row, fence, rally)
    check_count(len(body), "items", "file", MAX_ITEMS)
    mission = _mission(rows, body)
    if home is not None:
        mission = place_takeoffs(mission, home[0], home[1])
    return MissionFile(
        format="wpl",
        mission=mission,
        fence=fence,
        rally=rally,
        home=home,
        locations=[f"line {row.line}" for _, row in body],
    )
