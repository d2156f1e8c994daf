"""QGroundControl ``.plan`` files (JSON) to mission, fence and rally items.

What is read, and why:

- The file must say ``"fileType": "Plan"`` and ``"version": 1``; ``mission.version`` must be
  2, ``geoFence.version`` 2 and ``rallyPoints.version`` 2. Other versions are refused with a
  message naming the version found and the one supported, as MAVSDK's own importer does:
  a newer QGroundControl may have changed what fields mean, and guessing is not safe.
  ``geoFence`` version 1 (older QGroundControl) is accepted only when its polygon is empty.
- ``SimpleItem``: ``command``, ``frame``, ``params`` (7 numbers, ``null`` = NaN),
  ``autoContinue``, ``doJumpId``. A DO_JUMP's param1 names the target's ``doJumpId`` in
  the file (what QGroundControl shows); it becomes the target's sequence number, as
  QGroundControl does when it uploads to PX4 (home is not sent). A target no item has is refused.
- ``ComplexItem`` ``survey`` (version 5) and ``CorridorScan`` (version 3): QGroundControl
  stores the items it generated in ``TransectStyleComplexItem.Items``; they are used as
  they are, in order. A survey without them is refused: regenerating a survey is
  QGroundControl's job, and a path different from the one its author saw is not flown.
- ``ComplexItem`` ``StructureScan``: refused. QGroundControl stores no generated items for
  it (it rebuilds the orbits from the polygon each time it loads the file). Generating them
  here would fly close to a structure along an approximation of a path nobody reviewed;
  MAVSDK refuses it for the same reason. Other complex items (landing patterns) are refused.
- ``plannedHomePosition`` becomes ``home`` (it is not a mission item: PX4 sets home itself).
- The speed: ``hoverSpeed`` for multirotors and helicopters (QGroundControl's "vehicleType"
  2, 3, 4, 13, 14, 15, 29), otherwise ``cruiseSpeed``, as QGroundControl picks by vehicle.
- ``geoFence`` polygons become NAV_FENCE_POLYGON_VERTEX_INCLUSION/EXCLUSION items (param1 =
  vertex count), circles NAV_FENCE_CIRCLE_INCLUSION/EXCLUSION (param1 = radius m), frame GLOBAL;
  ``rallyPoints`` ``[lat, lon, alt]`` become NAV_RALLY_POINT items in GLOBAL_RELATIVE_ALT. This
  is what MAVSDK's importer produces too.
- A plan without a mission, or with an empty one, is refused: a mission job needs items, and
  a fence or rally points alone fly nothing.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from shared import mav_cmd
from shared.mission.checks import check_count, check_lat_lon_alt, make_item
from shared.mission.errors import MissionFileError
from shared.mission.items import (
    FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT,
    MAX_ITEMS,
    MISSION_TYPE_FENCE,
    MISSION_TYPE_MISSION,
    MISSION_TYPE_RALLY,
    MissionFile,
    MissionItem,
)

PLAN_VERSION = 1
MISSION_VERSION = 2
GEOFENCE_VERSION = 2
RALLY_VERSION = 2
COMPLEX_VERSIONS = {"survey": 5, "CorridorScan": 3}
MULTIROTOR_TYPES = frozenset({2, 3, 4, 13, 14, 15, 29})

_JSON_FIELDS = {"frame": "frame", "command": "command", "autocontinue": "autoContinue"}
Params = tuple[float, float, float, float, float, float, float]


class _Simple(msgspec.Struct, frozen=True):
    """A SimpleItem as read, before it has a sequence number."""

    loc: str
    command: int
    frame: int
    params: Params
    autocontinue: int
    do_jump_id: int | None


def _obj(value: Any, loc: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MissionFileError(loc, f"must be an object, not {_kind(value)}")
    return value


def _list(value: Any, loc: str) -> list[Any]:
    if not isinstance(value, list):
        raise MissionFileError(loc, f"must be a list, not {_kind(value)}")
    return value


def _int(value: Any, loc: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MissionFileError(loc, f"must be an integer, not {_kind(value)}")
    if isinstance(value, float) and not value.is_integer():
        raise MissionFileError(loc, f"must be an integer, not {value!r}")
    if not -(2**53) <= value <= 2**53:
        raise MissionFileError(loc, f"{value!r} is out of range")
    return int(value)


def _num(value: Any, loc: str, *, nullable: bool = False) -> float:
    if value is None and nullable:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MissionFileError(loc, f"must be a number, not {_kind(value)}")
    try:
        return float(value)
    except OverflowError:
        raise MissionFileError(loc, "number out of range") from None


def _bool(value: Any, loc: str) -> bool:
    if not isinstance(value, bool):
        raise MissionFileError(loc, f"must be true or false, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"[:60]
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__


def _version(obj: dict[str, Any], loc: str, what: str, supported: int) -> None:
    where = f"{loc}.version" if loc else "version"
    found = _int(obj.get("version"), where)
    if found != supported:
        raise MissionFileError(
            where, f"{what} version {found} is not supported (supported: {supported})"
        )


def _lat_lon(value: Any, loc: str, size: int = 2) -> list[float]:
    coords = _list(value, loc)
    if len(coords) != size:
        raise MissionFileError(loc, f"must be {size} numbers, not {len(coords)}")
    numbers = [_num(v, f"{loc}[{i}]") for i, v in enumerate(coords)]
    alt = numbers[2] if size == 3 else 0.0
    fields = {"param5": 0, "param6": 1, "param7": 2}
    check_lat_lon_alt(numbers[0], numbers[1], alt, lambda f: f"{loc}[{fields[f]}]")
    return numbers


def parse_qgc_plan(data: bytes) -> MissionFile:
    """Parse a ``.plan`` file; raises ``MissionFileError`` naming where it is wrong."""
    try:
        doc = msgspec.json.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MissionFileError("file", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise MissionFileError("file", "JSON nested too deeply") from None
    root = _obj(doc, "file")
    if root.get("fileType") != "Plan":
        raise MissionFileError("fileType", 'must be "Plan" (a QGroundControl .plan file)')
    _version(root, "", ".plan file", PLAN_VERSION)
    if "mission" not in root:
        raise MissionFileError(
            "mission",
            "the file has no mission: a mission job needs items "
            "(a geofence or rally points alone fly nothing)",
        )
    mission = _obj(root["mission"], "mission")
    _version(mission, "mission", "mission", MISSION_VERSION)
    home = _home(mission)
    speed = _speed(mission)
    items, locations = _mission_items(mission)
    fence = _fence(root["geoFence"]) if root.get("geoFence") is not None else []
    rally = _rally(root["rallyPoints"]) if root.get("rallyPoints") is not None else []
    return MissionFile(
        format="qgc_plan",
        mission=items,
        fence=fence,
        rally=rally,
        home=home,
        cruise_speed_m_s=speed,
        locations=locations,
    )


def _home(mission: dict[str, Any]) -> tuple[float, float, float] | None:
    if mission.get("plannedHomePosition") is None:
        return None
    lat, lon, alt = _lat_lon(mission["plannedHomePosition"], "mission.plannedHomePosition", 3)
    return (lat, lon, alt)


def _speed(mission: dict[str, Any]) -> float | None:
    vehicle = mission.get("vehicleType")
    key = "hoverSpeed" if vehicle in MULTIROTOR_TYPES else "cruiseSpeed"
    if mission.get(key) is None:
        return None
    speed = _num(mission[key], f"mission.{key}")
    if not (math.isfinite(speed) and 0 < speed <= 200):
        raise MissionFileError(f"mission.{key}", f"{speed!r} m/s is not a flight speed")
    return speed


def _simple(value: Any, loc: str) -> _Simple:
    item = _obj(value, loc)
    if item.get("type") != "SimpleItem":
        raise MissionFileError(f"{loc}.type", 'must be "SimpleItem" or "ComplexItem"')
    raw = _list(item.get("params"), f"{loc}.params")
    if len(raw) != 7:
        raise MissionFileError(f"{loc}.params", f"must be 7 numbers, not {len(raw)}")
    p = [_num(v, f"{loc}.params[{i}]", nullable=True) for i, v in enumerate(raw)]
    jump_id = item.get("doJumpId")
    return _Simple(
        loc=loc,
        command=_int(item.get("command"), f"{loc}.command"),
        frame=_int(item.get("frame"), f"{loc}.frame"),
        params=(p[0], p[1], p[2], p[3], p[4], p[5], p[6]),
        autocontinue=int(_bool(item.get("autoContinue"), f"{loc}.autoContinue")),
        do_jump_id=None if jump_id is None else _int(jump_id, f"{loc}.doJumpId"),
    )


def _complex(item: dict[str, Any], loc: str) -> list[_Simple]:
    kind = item.get("complexItemType")
    if kind == "StructureScan":
        raise MissionFileError(
            f"{loc}.complexItemType",
            "StructureScan is not supported: QGroundControl stores no flight path for it, and "
            "a path generated here would not be the one reviewed in QGroundControl; "
            "replace it with waypoints",
        )
    if kind not in COMPLEX_VERSIONS:
        raise MissionFileError(
            f"{loc}.complexItemType",
            f"complex item {_kind(kind)} is not supported (supported: survey, CorridorScan)",
        )
    _version(item, loc, str(kind), COMPLEX_VERSIONS[kind])
    tsci_loc = f"{loc}.TransectStyleComplexItem"
    transect = _obj(item.get("TransectStyleComplexItem"), tsci_loc)
    generated = transect.get("Items")
    if not generated:
        raise MissionFileError(
            f"{tsci_loc}.Items",
            f"the {kind}'s generated items are missing: open and save the plan in "
            "QGroundControl so it stores them",
        )
    raw = _list(generated, f"{tsci_loc}.Items")
    check_count(len(raw), "items", f"{tsci_loc}.Items", MAX_ITEMS)
    return [_simple(v, f"{tsci_loc}.Items[{j}]") for j, v in enumerate(raw)]


def _mission_items(mission: dict[str, Any]) -> tuple[list[MissionItem], list[str]]:
    raw = _list(mission.get("items"), "mission.items")
    if not raw:
        raise MissionFileError("mission.items", "no mission items")
    check_count(len(raw), "items", "mission.items", MAX_ITEMS)
    simple: list[_Simple] = []
    for i, value in enumerate(raw):
        loc = f"mission.items[{i}]"
        item = _obj(value, loc)
        if item.get("type") == "ComplexItem":
            simple.extend(_complex(item, loc))
        else:
            simple.append(_simple(item, loc))
        check_count(len(simple), "items", loc, MAX_ITEMS)
    seq_of_jump_id: dict[int, int] = {}
    for seq, s in enumerate(simple):
        if s.do_jump_id is not None:
            seq_of_jump_id.setdefault(s.do_jump_id, seq)
    items: list[MissionItem] = []
    for seq, s in enumerate(simple):
        params = s.params
        if s.command == mav_cmd.DO_JUMP:
            target = params[0]
            if not (math.isfinite(target) and target.is_integer()) or (
                int(target) not in seq_of_jump_id
            ):
                raise MissionFileError(
                    f"{s.loc}.params[0]", f"DO_JUMP target {target!r} is no item's doJumpId"
                )
            params = (float(seq_of_jump_id[int(target)]), *params[1:])

        def where(field: str, loc: str = s.loc) -> str:
            if field.startswith("param"):
                return f"{loc}.params[{int(field[5:]) - 1}]"
            return f"{loc}.{_JSON_FIELDS[field]}"

        items.append(
            make_item(
                seq=seq,
                frame=s.frame,
                command=s.command,
                autocontinue=s.autocontinue,
                params=params,
                mission_type=MISSION_TYPE_MISSION,
                where=where,
            )
        )
    return items, [s.loc for s in simple]


def _geo_item(
    seq: int, command: int, frame: int, lat: float, lon: float, alt: float, p1: float, mt: int
) -> MissionItem:
    return MissionItem(
        seq=seq,
        frame=frame,
        command=command,
        current=1 if seq == 0 else 0,
        autocontinue=0,
        param1=p1,
        param2=0.0,
        param3=0.0,
        param4=0.0,
        x=round(lat * 1e7),
        y=round(lon * 1e7),
        z=alt,
        mission_type=mt,
    )


def _fence(value: Any) -> list[MissionItem]:
    fence = _obj(value, "geoFence")
    found = _int(fence.get("version"), "geoFence.version")
    if found == 1 and not fence.get("polygon"):
        return []  # an empty fence in the format of older QGroundControl versions
    if found != GEOFENCE_VERSION:
        raise MissionFileError(
            "geoFence.version",
            f"geoFence version {found} is not supported (supported: {GEOFENCE_VERSION})",
        )
    items: list[MissionItem] = []
    for i, p in enumerate(_list(fence.get("polygons", []), "geoFence.polygons")):
        loc = f"geoFence.polygons[{i}]"
        polygon = _obj(p, loc)
        inclusion = _bool(polygon.get("inclusion"), f"{loc}.inclusion")
        vertices = _list(polygon.get("polygon"), f"{loc}.polygon")
        if len(vertices) < 3:
            raise MissionFileError(
                f"{loc}.polygon", f"a polygon needs 3 vertices, not {len(vertices)}"
            )
        check_count(len(items) + len(vertices), "fence items", loc, MAX_ITEMS)
        command = (
            mav_cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION
            if inclusion
            else mav_cmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION
        )
        for j, v in enumerate(vertices):
            lat, lon = _lat_lon(v, f"{loc}.polygon[{j}]")
            items.append(
                _geo_item(
                    len(items),
                    command,
                    FRAME_GLOBAL,
                    lat,
                    lon,
                    0.0,
                    float(len(vertices)),
                    MISSION_TYPE_FENCE,
                )
            )
    for i, c in enumerate(_list(fence.get("circles", []), "geoFence.circles")):
        loc = f"geoFence.circles[{i}]"
        entry = _obj(c, loc)
        inclusion = _bool(entry.get("inclusion"), f"{loc}.inclusion")
        circle = _obj(entry.get("circle"), f"{loc}.circle")
        lat, lon = _lat_lon(circle.get("center"), f"{loc}.circle.center")
        radius = _num(circle.get("radius"), f"{loc}.circle.radius")
        if not (math.isfinite(radius) and 0 < radius <= 1e6):
            raise MissionFileError(
                f"{loc}.circle.radius", f"radius {radius!r} m is not in (0, 1e6]"
            )
        check_count(len(items) + 1, "fence items", loc, MAX_ITEMS)
        command = (
            mav_cmd.NAV_FENCE_CIRCLE_INCLUSION if inclusion else mav_cmd.NAV_FENCE_CIRCLE_EXCLUSION
        )
        items.append(
            _geo_item(len(items), command, FRAME_GLOBAL, lat, lon, 0.0, radius, MISSION_TYPE_FENCE)
        )
    return items


def _rally(value: Any) -> list[MissionItem]:
    rally = _obj(value, "rallyPoints")
    found = _int(rally.get("version"), "rallyPoints.version")
    if found == 1 and not rally.get("points"):
        return []  # empty, in the format of older QGroundControl versions
    if found != RALLY_VERSION:
        raise MissionFileError(
            "rallyPoints.version",
            f"rallyPoints version {found} is not supported (supported: {RALLY_VERSION})",
        )
    points = _list(rally.get("points", []), "rallyPoints.points")
    check_count(len(points), "rally points", "rallyPoints.points", MAX_ITEMS)
    items: list[MissionItem] = []
    for i, p in enumerate(points):
        lat, lon, alt = _lat_lon(p, f"rallyPoints.points[{i}]", 3)
        items.append(
            _geo_item(
                i,
                mav_cmd.NAV_RALLY_POINT,
                FRAME_GLOBAL_RELATIVE_ALT,
                lat,
                lon,
                alt,
                0.0,
                MISSION_TYPE_RALLY,
            )
        )
    return items
