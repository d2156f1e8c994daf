"""QGroundControl ``.plan`` files (JSON) to mission, fence and rally items.

What is read, and why (QGroundControl's loaders are the reference: ``PlanMasterController``,
``MissionController::_loadJsonMissionFileV2``, ``MissionItem::load``, ``SurveyComplexItem``,
``CorridorScanComplexItem``, ``TransectStyleComplexItem``, ``GeoFenceController``,
``RallyPointController``):

- The file must say ``"fileType": "Plan"`` and ``"version": 1``. ``mission.version`` 2 is
  what QGroundControl writes; it reads every mission version the same way (it does not look
  at it), so version 1 in that same layout is read too. A version 1 in the older
  ``.mission`` layout (``complexItems``, home as an object) and versions above 2 are refused,
  naming the version found, as MAVSDK's importer does: a newer QGroundControl may have
  changed what fields mean, and guessing is not safe.
- ``SimpleItem``: ``command``, ``frame``, ``params`` (7 numbers, ``null`` = NaN),
  ``autoContinue``, ``doJumpId``; or the older form QGroundControl still loads, 4
  ``params`` and a ``coordinate`` ``[lat, lon, alt]`` (``null`` = NaN). A DO_JUMP's param1
  names the target's ``doJumpId`` in the file (what QGroundControl shows); it becomes the
  target's sequence number, as QGroundControl does when it uploads to PX4 (home is not
  sent). A target no item has is refused.
- A position item whose altitude is ``null``: QGroundControl writes that for an "above
  terrain" altitude (``AltitudeMode`` 3, frame GLOBAL) it had no terrain data to compute.
  It is refused saying so, in those words, not as an out-of-range number. Terrain frames
  (10, 11) are read as the valid MAVLink they are; whether PX4 flies them is the
  feasibility check's business.
- ``ComplexItem`` ``survey``: QGroundControl loads versions 2 to 5. Versions 4 and 5 (5
  only adds ``splitConcavePolygons``) store the items QGroundControl generated in
  ``TransectStyleComplexItem.Items``: they are used as they are, in order. Versions 2 and 3
  store only the area and camera settings (QGroundControl regenerates the path on load),
  and a survey without its items is refused: regenerating a survey is QGroundControl's
  job, and a path different from the one its author saw is not flown. The message asks to
  open and save the plan in QGroundControl, which stores the items.
- ``ComplexItem`` ``CorridorScan`` versions 2 and 3: its generated items, the same way.
- ``ComplexItem`` ``StructureScan``: refused. QGroundControl stores no generated items for
  it (it rebuilds the orbits from the polygon each time it loads the file). Generating them
  here would fly close to a structure along an approximation of a path nobody reviewed;
  MAVSDK refuses it for the same reason. Other complex items (landing patterns) are refused.
- ``plannedHomePosition`` becomes ``home`` (it is not a mission item: PX4 sets home itself).
  A ``null`` altitude (MAVSDK-Python's example file has one) is NaN, "the vehicle's home";
  ``null`` latitude and longitude, or 0 and 0, mean no home position.
- The speed: ``hoverSpeed`` for multirotors and helicopters (QGroundControl's "vehicleType"
  2, 3, 4, 13, 14, 15, 29), otherwise ``cruiseSpeed``, as QGroundControl picks by vehicle.
- ``geoFence`` (version 2) polygons become NAV_FENCE_POLYGON_VERTEX_INCLUSION/EXCLUSION items
  (param1 = vertex count), circles NAV_FENCE_CIRCLE_INCLUSION/EXCLUSION (param1 = radius m),
  frame GLOBAL, as MAVSDK's importer makes them; a ``breachReturn`` ``[lat, lon, alt]``
  becomes a last NAV_FENCE_RETURN_POINT item in GLOBAL_RELATIVE_ALT, as QGroundControl sends
  it (ArduPlane flies there on a breach; PX4 accepts it and lets GF_ACTION decide).
  QGroundControl ignores a fence of version 1 or without a version: such a section is read
  as no fence when it is empty, and refused when it holds a fence (silently dropping a
  geofence the file draws is not safe, and QGroundControl would not show it).
- ``rallyPoints`` (version 2) ``[lat, lon, alt]`` become NAV_RALLY_POINT items in
  GLOBAL_RELATIVE_ALT. QGroundControl ignores version 1 and refuses no version; both are read
  as no rally points when empty and refused when they hold points.
- A plan without a mission, or with an empty one, is refused: a mission job needs items, and
  a fence or rally points alone fly nothing.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from shared import mav_cmd
from shared.mission.checks import check_count, check_lat_lon, check_lat_lon_alt, make_item
from shared.mission.errors import MissionFileError
from shared.mission.items import (
    FRAME_GLOBAL,
    FRAME_GLOBAL_RELATIVE_ALT,
    MAX_ALT_M,
    MAX_ITEMS,
    MIN_ALT_M,
    MISSION_TYPE_FENCE,
    MISSION_TYPE_MISSION,
    MISSION_TYPE_RALLY,
    MissionFile,
    MissionItem,
    place_takeoffs,
)

PLAN_VERSION = 1
MISSION_VERSIONS = (1, 2)
"""2 is what QGroundControl writes; 1 is read when laid out the same way."""
GEOFENCE_VERSION = 2
RALLY_VERSION = 2
COMPLEX_VERSIONS = {"survey": (4, 5), "CorridorScan": (2, 3)}
"""Complex item versions that store their generated items."""
PATHLESS_VERSIONS = {"survey": (2, 3)}
"""Versions QGroundControl loads but stores no generated items for (it regenerates them)."""
MULTIROTOR_TYPES = frozenset({2, 3, 4, 13, 14, 15, 29})
ABOVE_TERRAIN = 3
"""QGroundControl's ``AltitudeMode`` (and CameraCalc ``DistanceMode``) "calculated above
terrain": frame GLOBAL, the altitude computed from terrain data when there is some."""

MISSING_ALT = (
    "altitude is missing (null): QGroundControl leaves it empty when it had no terrain data "
    "for an 'above terrain' altitude; set a relative altitude"
)
MISSING_TERRAIN_ALT = (
    "altitude is missing: it is 'above terrain' and QGroundControl had no terrain data to "
    "compute it; set a relative altitude, or open the plan in QGroundControl where it has "
    "terrain data and save it again"
)

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
    coordinate: bool
    """The older form: param5-7 are in ``coordinate``, not ``params``."""
    above_terrain: bool
    """QGroundControl computed the altitude from terrain data (or had none to do so)."""

    def where(self, field: str) -> str:
        """The JSON path of ``field`` (``frame``, ``param5``...) in this item."""
        if not field.startswith("param"):
            return f"{self.loc}.{_JSON_FIELDS[field]}"
        n = int(field[5:]) - 1
        if self.coordinate and n >= 4:
            return f"{self.loc}.coordinate[{n - 4}]"
        return f"{self.loc}.params[{n}]"


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
    _mission_version(mission)
    home = _home(mission)
    speed = _speed(mission)
    items, locations = _mission_items(mission)
    if home is not None:
        items = place_takeoffs(items, home[0], home[1])
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


def _mission_version(mission: dict[str, Any]) -> None:
    where = "mission.version"
    found = _int(mission.get("version"), where)
    if found not in MISSION_VERSIONS:
        raise MissionFileError(
            where,
            f"mission version {found} is not supported "
            f"(supported: {', '.join(map(str, MISSION_VERSIONS))})",
        )
    old_layout = "complexItems" in mission or isinstance(mission.get("plannedHomePosition"), dict)
    if found == 1 and old_layout:
        raise MissionFileError(
            where,
            f"mission version {found} in the older .mission layout (separate 'complexItems', "
            "home as an item) is not read here: open the file in QGroundControl and save it "
            "as a .plan",
        )


def _home(mission: dict[str, Any]) -> tuple[float, float, float] | None:
    """``plannedHomePosition``; a null altitude is NaN (the vehicle's home)."""
    loc = "mission.plannedHomePosition"
    if mission.get("plannedHomePosition") is None:
        return None
    coords = _list(mission["plannedHomePosition"], loc)
    if len(coords) != 3:
        raise MissionFileError(loc, f"must be 3 numbers, not {len(coords)}")
    if coords[0] is None and coords[1] is None:
        return None
    lat, lon = _num(coords[0], f"{loc}[0]"), _num(coords[1], f"{loc}[1]")
    alt = _num(coords[2], f"{loc}[2]", nullable=True)
    if lat == 0 and lon == 0:
        return None  # what a ground station writes when it knows no home
    fields = {"param5": 0, "param6": 1}
    check_lat_lon(lat, lon, lambda f: f"{loc}[{fields[f]}]")
    if not math.isnan(alt) and not MIN_ALT_M <= alt <= MAX_ALT_M:
        raise MissionFileError(
            f"{loc}[2]", f"home altitude {alt!r} m is not in [{MIN_ALT_M:g}, {MAX_ALT_M:g}]"
        )
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


def _simple(value: Any, loc: str, *, terrain: bool = False) -> _Simple:
    """A SimpleItem, in either form; ``terrain``: its complex item follows the terrain."""
    item = _obj(value, loc)
    if item.get("type") != "SimpleItem":
        raise MissionFileError(f"{loc}.type", 'must be "SimpleItem" or "ComplexItem"')
    raw = _list(item.get("params"), f"{loc}.params")
    coordinate = item.get("coordinate")
    if coordinate is None:
        if len(raw) != 7:
            raise MissionFileError(f"{loc}.params", f"must be 7 numbers, not {len(raw)}")
        p = [_num(v, f"{loc}.params[{i}]", nullable=True) for i, v in enumerate(raw)]
    else:  # the older form: QGroundControl appends the coordinate to 4 params
        if len(raw) != 4:
            raise MissionFileError(
                f"{loc}.params",
                f"must be 4 numbers beside a 'coordinate' (the older form), not {len(raw)}",
            )
        coords = _list(coordinate, f"{loc}.coordinate")
        if len(coords) != 3:
            raise MissionFileError(
                f"{loc}.coordinate",
                f"must be 3 numbers (latitude, longitude, altitude), not {len(coords)}",
            )
        p = [_num(v, f"{loc}.params[{i}]", nullable=True) for i, v in enumerate(raw)]
        p += [_num(v, f"{loc}.coordinate[{i}]", nullable=True) for i, v in enumerate(coords)]
    jump_id = item.get("doJumpId")
    return _Simple(
        loc=loc,
        command=_int(item.get("command"), f"{loc}.command"),
        frame=_int(item.get("frame"), f"{loc}.frame"),
        params=(p[0], p[1], p[2], p[3], p[4], p[5], p[6]),
        autocontinue=int(_bool(item.get("autoContinue"), f"{loc}.autoContinue")),
        do_jump_id=None if jump_id is None else _int(jump_id, f"{loc}.doJumpId"),
        coordinate=coordinate is not None,
        above_terrain=terrain or item.get("AltitudeMode") == ABOVE_TERRAIN,
    )


def _follows_terrain(transect: dict[str, Any]) -> bool:
    """A survey or corridor whose altitudes QGroundControl computes from terrain data."""
    camera = transect.get("CameraCalc")
    mode = camera.get("DistanceMode") if isinstance(camera, dict) else None
    return mode == ABOVE_TERRAIN or transect.get("FollowTerrain") is True


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
    found = _int(item.get("version"), f"{loc}.version")
    if found in PATHLESS_VERSIONS.get(kind, ()):
        raise MissionFileError(
            f"{loc}.version",
            f"a {kind} of version {found} stores no generated items (QGroundControl "
            "regenerates them when it opens the file): open and save the plan in "
            "QGroundControl so it stores them",
        )
    if found not in COMPLEX_VERSIONS[kind]:
        raise MissionFileError(
            f"{loc}.version",
            f"{kind} version {found} is not supported "
            f"(supported: {', '.join(map(str, COMPLEX_VERSIONS[kind]))})",
        )
    tsci_loc = f"{loc}.TransectStyleComplexItem"
    transect = _obj(item.get("TransectStyleComplexItem"), tsci_loc)
    terrain = _follows_terrain(transect)
    generated = transect.get("Items")
    if not generated:
        raise MissionFileError(
            f"{tsci_loc}.Items",
            f"the {kind}'s generated items are missing: open and save the plan in "
            "QGroundControl so it stores them",
        )
    raw = _list(generated, f"{tsci_loc}.Items")
    check_count(len(raw), "items", f"{tsci_loc}.Items", MAX_ITEMS)
    return [_simple(v, f"{tsci_loc}.Items[{j}]", terrain=terrain) for j, v in enumerate(raw)]


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
                    s.where("param1"), f"DO_JUMP target {target!r} is no item's doJumpId"
                )
            params = (float(seq_of_jump_id[int(target)]), *params[1:])
        items.append(
            make_item(
                seq=seq,
                frame=s.frame,
                command=s.command,
                autocontinue=s.autocontinue,
                params=params,
                mission_type=MISSION_TYPE_MISSION,
                where=s.where,
                missing_alt=MISSING_TERRAIN_ALT if s.above_terrain else MISSING_ALT,
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


def _unread_version(
    section: dict[str, Any], name: str, content: tuple[str, ...], supported: int
) -> bool:
    """True when ``section`` has a version whose content QGroundControl does not read (none,
    or 1) and holds nothing; one that holds something is refused."""
    where = f"{name}.version"
    raw = section.get("version")
    version = None if raw is None else _int(raw, where)
    if version == supported:
        return False
    if version is not None and version != 1:
        raise MissionFileError(
            where, f"{name} version {version} is not supported (supported: {supported})"
        )
    if any(section.get(key) for key in content):
        said = "no version" if version is None else "version 1"
        raise MissionFileError(
            where,
            f"{name} with {said} holds data QGroundControl does not read, so what it means "
            f"is unclear: redraw it in QGroundControl and save the plan, or give it "
            f'"version": {supported} if it is in that form',
        )
    return True


def _fence(value: Any) -> list[MissionItem]:
    fence = _obj(value, "geoFence")
    content = ("polygon", "polygons", "circles", "breachReturn")
    if _unread_version(fence, "geoFence", content, GEOFENCE_VERSION):
        return []  # an empty fence in the form of older QGroundControl versions
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
    if fence.get("breachReturn") is not None:
        lat, lon, alt = _lat_lon(fence["breachReturn"], "geoFence.breachReturn", 3)
        items.append(
            _geo_item(
                len(items),
                mav_cmd.NAV_FENCE_RETURN_POINT,
                FRAME_GLOBAL_RELATIVE_ALT,
                lat,
                lon,
                alt,
                0.0,
                MISSION_TYPE_FENCE,
            )
        )
    return items


def _rally(value: Any) -> list[MissionItem]:
    rally = _obj(value, "rallyPoints")
    if _unread_version(rally, "rallyPoints", ("points",), RALLY_VERSION):
        return []  # empty, in the form of older QGroundControl versions
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
