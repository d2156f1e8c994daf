"""Whether a flight path stays inside a geofence, by PX4's rule, leg by leg.

PX4 (``navigator/geofence.cpp``) takes a point as inside a geofence when it is inside at
least one inclusion area (polygon or circle; a fence without inclusion areas sets no such
bound) and inside no exclusion area. A multicopter flies a mission leg as a straight line,
so a leg is inside when every point of it is, not only its two ends: a leg whose ends are
both inside can still cut across an exclusion zone or the corner of a concave inclusion
polygon, and the vehicle would breach the fence in flight (and PX4's fence failsafe,
``GF_ACTION``, would end the mission there). Newer PX4 versions check the paths between
mission positions at their mission check too; older ones only the positions.

The parts of a leg inside each area are found exactly (where the leg crosses polygon
edges, where it cuts a circle), on a flat-earth projection centred on the fence: exact to
well under 1 % for fences tens of kilometres across. Fence altitudes are not checked
(PX4's polygons have none; its ``GF_MAX_VER_DIST`` is a separate parameter).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from shared import mav_cmd
from shared.mission.errors import MissionFileError
from shared.mission.items import FENCE_CIRCLE_COMMANDS, FENCE_POLYGON_COMMANDS, MissionItem

EARTH_RADIUS_M = 6_371_000.0
"""PX4's ``CONSTANTS_RADIUS_OF_EARTH``."""
TOLERANCE_M = 0.01
"""A leg touching a fence for less than this (a vertex grazed, a boundary followed) is not
a breach: float rounding of the projection is larger than that."""

LatLon = tuple[float, float]
Point = tuple[float, float]
"""Metres east and north of the fence's centre."""
Edge = tuple[float, float, float, float, float, float, float, float]


@dataclass(frozen=True)
class Area:
    """One inclusion or exclusion polygon or circle, projected."""

    inclusion: bool
    kind: str
    """``polygon`` or ``circle``."""
    number: int
    """1 for the first polygon (or circle) of the fence, in the fence's own order."""
    vertices: tuple[Point, ...]
    """A polygon's corners; a circle's centre alone."""
    radius_m: float = 0.0
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    """min x, min y, max x, max y."""
    edges: tuple[Edge, ...] = ()
    """A polygon's sides: start x, start y, direction x, direction y, and their box."""

    @property
    def name(self) -> str:
        return f"{'inclusion' if self.inclusion else 'exclusion'} {self.kind} {self.number}"

    def inside(self, a: Point, b: Point) -> list[tuple[float, float]]:
        """The parts of the leg ``a``-``b`` inside this area, as ``(t0, t1)`` fractions of it."""
        if not _boxes_meet(self.box, a, b):
            return []
        if self.kind == "circle":
            return _circle_parts(self.vertices[0], self.radius_m, a, b)
        return _polygon_parts(self.vertices, self.edges, a, b)


@dataclass(frozen=True)
class Breach:
    """Where a leg leaves the inclusion areas or enters an exclusion area."""

    inclusion: bool
    """True: the leg leaves the inclusion areas; False: it enters an exclusion area."""
    area: str
    """``inclusion polygon 1``, ``every inclusion area (polygon 1, circle 1)``,
    ``exclusion circle 2``..."""
    at: LatLon


class Geofence:
    """A fence's areas, ready to check legs against; ``source`` names it for people
    (``the plan's geofence``, ``the vehicle's geofence``)."""

    def __init__(self, items: Sequence[MissionItem], source: str) -> None:
        self.source = source
        corners = [(item.x / 1e7, item.y / 1e7) for item in items]
        self._lat0 = self._lon0 = 0.0
        if corners:
            self._lat0 = sum(lat for lat, _ in corners) / len(corners)
            # The mean of the directions, not of the numbers: 179 and -179 meet at 180.
            east = sum(math.sin(math.radians(lon)) for _, lon in corners)
            north = sum(math.cos(math.radians(lon)) for _, lon in corners)
            self._lon0 = math.degrees(math.atan2(east, north))
        cos_lat = max(math.cos(math.radians(self._lat0)), 1e-9)  # at a pole, east is nowhere
        self._east_m_per_deg = math.radians(1) * EARTH_RADIUS_M * cos_lat
        self._north_m_per_deg = math.radians(1) * EARTH_RADIUS_M
        self.areas = self._areas(items)
        self._inclusions = [a for a in self.areas if a.inclusion]
        self._exclusions = [a for a in self.areas if not a.inclusion]

    def __bool__(self) -> bool:
        return bool(self.areas)

    def project(self, at: LatLon) -> Point:
        dlon = (at[1] - self._lon0 + 180.0) % 360.0 - 180.0
        return (dlon * self._east_m_per_deg, (at[0] - self._lat0) * self._north_m_per_deg)

    def unproject(self, p: Point) -> LatLon:
        return (self._lat0 + p[1] / self._north_m_per_deg, self._lon0 + p[0] / self._east_m_per_deg)

    def _areas(self, items: Sequence[MissionItem]) -> list[Area]:
        areas: list[Area] = []
        polygons = circles = 0
        i = 0
        while i < len(items):
            item = items[i]
            if item.command in FENCE_POLYGON_COMMANDS:
                polygons += 1
                count = int(item.param1) if math.isfinite(item.param1) else 0
                vertices = items[i : i + count]
                if (
                    count < 3
                    or len(vertices) < count
                    or any(v.command != item.command for v in vertices)
                ):
                    raise MissionFileError(
                        "geofence",
                        f"polygon {polygons} of {self.source} is not a polygon "
                        f"(its first vertex says {item.param1:g} vertices; a polygon needs 3)",
                    )
                points = tuple(self.project((v.x / 1e7, v.y / 1e7)) for v in vertices)
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                inclusion = item.command == mav_cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION
                box = (min(xs), min(ys), max(xs), max(ys))
                edges = tuple(_edge(points[k - 1], points[k]) for k in range(len(points)))
                areas.append(Area(inclusion, "polygon", polygons, points, box=box, edges=edges))
                i += count
                continue
            if item.command in FENCE_CIRCLE_COMMANDS:
                circles += 1
                radius = item.param1
                if not (math.isfinite(radius) and radius > 0):
                    raise MissionFileError(
                        "geofence",
                        f"circle {circles} of {self.source} has no radius ({radius!r} m)",
                    )
                c = self.project((item.x / 1e7, item.y / 1e7))
                box = (c[0] - radius, c[1] - radius, c[0] + radius, c[1] + radius)
                inclusion = item.command == mav_cmd.NAV_FENCE_CIRCLE_INCLUSION
                areas.append(Area(inclusion, "circle", circles, (c,), radius, box))
            i += 1  # a return point (NAV_FENCE_RETURN_POINT) bounds nothing
        return areas

    def breach(self, start: LatLon, end: LatLon) -> Breach | None:
        """The first place the straight leg ``start``-``end`` is outside the fence, if any."""
        a, b = self.project(start), self.project(end)
        length = math.dist(a, b)
        tol = TOLERANCE_M / length if length > 0 else 0.0
        if self._inclusions:
            covered = sorted(part for area in self._inclusions for part in area.inside(a, b))
            reach = 0.0
            for t0, t1 in covered:
                if t0 > reach + tol:
                    break
                reach = max(reach, t1)
            if not covered or reach < 1.0 - tol:
                gap = reach if covered else 0.0
                if len(self._inclusions) == 1:
                    left = self._inclusions[0].name
                else:
                    names = ", ".join(i.name.removeprefix("inclusion ") for i in self._inclusions)
                    left = f"every inclusion area ({names})"
                return Breach(True, left, self._at(a, b, gap))
        for zone in self._exclusions:
            for t0, t1 in zone.inside(a, b):
                if length == 0 or t1 - t0 > tol:
                    return Breach(False, zone.name, self._at(a, b, t0))
        return None

    def _at(self, a: Point, b: Point, t: float) -> LatLon:
        return self.unproject((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))


def _boxes_meet(box: tuple[float, float, float, float], a: Point, b: Point) -> bool:
    return not (
        max(a[0], b[0]) < box[0]
        or min(a[0], b[0]) > box[2]
        or max(a[1], b[1]) < box[1]
        or min(a[1], b[1]) > box[3]
    )


def _inside_polygon(vertices: Sequence[Point], p: Point) -> bool:
    """Even-odd rule, as PX4's ``insidePolygon``."""
    x, y = p
    inside = False
    j = len(vertices) - 1
    for i in range(len(vertices)):
        xi, yi = vertices[i]
        xj, yj = vertices[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _edge(p: Point, q: Point) -> Edge:
    return (
        p[0], p[1], q[0] - p[0], q[1] - p[1],
        min(p[0], q[0]), min(p[1], q[1]), max(p[0], q[0]), max(p[1], q[1]),
    )  # fmt: skip


def _polygon_parts(
    vertices: Sequence[Point], edges: Sequence[Edge], a: Point, b: Point
) -> list[tuple[float, float]]:
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx == 0 and dy == 0:
        return [(0.0, 1.0)] if _inside_polygon(vertices, a) else []
    lo_x, hi_x = min(a[0], b[0]), max(a[0], b[0])
    lo_y, hi_y = min(a[1], b[1]), max(a[1], b[1])
    cuts = [0.0, 1.0]
    for x1, y1, ex, ey, min_x, min_y, max_x, max_y in edges:
        if max_x < lo_x or min_x > hi_x or max_y < lo_y or min_y > hi_y:
            continue  # too far to cross (most sides, for a short leg)
        denom = dx * ey - dy * ex
        if denom == 0:  # parallel: touching along an edge decides nothing by itself
            continue
        wx, wy = x1 - a[0], y1 - a[1]
        t = (wx * ey - wy * ex) / denom
        u = (wx * dy - wy * dx) / denom
        if 0.0 < t < 1.0 and 0.0 <= u <= 1.0:
            cuts.append(t)
    if len(cuts) == 2:  # no side crossed: all in, or all out
        middle = (a[0] + dx / 2, a[1] + dy / 2)
        return [(0.0, 1.0)] if _inside_polygon(vertices, middle) else []
    cuts.sort()
    parts: list[tuple[float, float]] = []
    for t0, t1 in itertools.pairwise(cuts):
        if t1 <= t0:
            continue
        mid = (t0 + t1) / 2
        if _inside_polygon(vertices, (a[0] + mid * dx, a[1] + mid * dy)):
            if parts and parts[-1][1] == t0:
                parts[-1] = (parts[-1][0], t1)
            else:
                parts.append((t0, t1))
    return parts


def _circle_parts(c: Point, r: float, a: Point, b: Point) -> list[tuple[float, float]]:
    dx, dy = b[0] - a[0], b[1] - a[1]
    fx, fy = a[0] - c[0], a[1] - c[1]
    qa = dx * dx + dy * dy
    qc = fx * fx + fy * fy - r * r
    if qa == 0:
        return [(0.0, 1.0)] if qc <= 0 else []
    qb = 2 * (fx * dx + fy * dy)
    disc = qb * qb - 4 * qa * qc
    if disc <= 0:
        return []
    root = math.sqrt(disc)
    t0 = max(0.0, (-qb - root) / (2 * qa))
    t1 = min(1.0, (-qb + root) / (2 * qa))
    return [(t0, t1)] if t0 < t1 else []
