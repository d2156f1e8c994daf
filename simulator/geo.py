"""Flat-earth geometry over the few kilometres a simulated flight covers.

An equirectangular projection around the first point is within centimetres of the
great-circle answer at these distances and costs a handful of float operations per
physics step, which matters when one core runs many vehicles.
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_000.0
"""Mean earth radius, metres."""


def offset_m(
    lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float
) -> tuple[float, float]:
    """North and east metres from point 1 to point 2."""
    north_m = math.radians(lat2_deg - lat1_deg) * EARTH_RADIUS_M
    east_m = math.radians(lon2_deg - lon1_deg) * EARTH_RADIUS_M * math.cos(math.radians(lat1_deg))
    return north_m, east_m


def moved(lat_deg: float, lon_deg: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point ``north_m``/``east_m`` metres away from ``lat_deg``/``lon_deg``."""
    lat2 = lat_deg + math.degrees(north_m / EARTH_RADIUS_M)
    cos_lat = max(math.cos(math.radians(lat_deg)), 1e-9)
    lon2 = lon_deg + math.degrees(east_m / (EARTH_RADIUS_M * cos_lat))
    return lat2, lon2


def distance_m(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Horizontal metres between two points."""
    north_m, east_m = offset_m(lat1_deg, lon1_deg, lat2_deg, lon2_deg)
    return math.hypot(north_m, east_m)


def inside_polygon(lat_deg: float, lon_deg: float, vertices: list[tuple[float, float]]) -> bool:
    """Ray casting in lat/lon (fine for fences that do not straddle a pole or 180 deg)."""
    inside = False
    count = len(vertices)
    if count < 3:
        return False
    j = count - 1
    for i in range(count):
        lat_i, lon_i = vertices[i]
        lat_j, lon_j = vertices[j]
        if (lat_i > lat_deg) != (lat_j > lat_deg):
            cross_lon = (lon_j - lon_i) * (lat_deg - lat_i) / (lat_j - lat_i) + lon_i
            if lon_deg < cross_lon:
                inside = not inside
        j = i
    return inside
