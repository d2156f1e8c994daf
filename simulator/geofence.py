"""Geofence zones from uploaded fence items, and whether a position breaks them.

A fence is a list of items: polygon vertices (each carrying the polygon's vertex count in
param1) and circles (radius in param1), each an inclusion or an exclusion. A position
breaches the fence outside every inclusion zone (when there is one) or inside any
exclusion zone.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymavlink.dialects.v20 import common as mavlink

from simulator import geo
from simulator.mission_items import MissionItem, whole

FENCE_POLYGON_INCLUSION: int = mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
FENCE_POLYGON_EXCLUSION: int = mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
FENCE_CIRCLE_INCLUSION: int = mavlink.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
FENCE_CIRCLE_EXCLUSION: int = mavlink.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION


@dataclass(frozen=True, slots=True)
class Zone:
    """One geofence zone."""

    inclusion: bool
    polygon: tuple[tuple[float, float], ...] = ()
    """Vertices (lat, lon) in degrees; empty for a circle."""
    center: tuple[float, float] = (0.0, 0.0)
    radius_m: float = 0.0

    def contains(self, lat_deg: float, lon_deg: float) -> bool:
        if self.polygon:
            return geo.inside_polygon(lat_deg, lon_deg, list(self.polygon))
        return geo.distance_m(self.center[0], self.center[1], lat_deg, lon_deg) <= self.radius_m


def zones_from_fence(items: list[MissionItem]) -> list[Zone]:
    """Group fence items (polygon vertices carry their vertex count in param1)."""
    zones: list[Zone] = []
    i = 0
    while i < len(items):
        item = items[i]
        if item.command in (FENCE_POLYGON_INCLUSION, FENCE_POLYGON_EXCLUSION):
            count = max(whole(item.param1, 1), 1)
            vertices = tuple(
                (v.x * 1e-7, v.y * 1e-7) for v in items[i : i + count] if v.command == item.command
            )
            zones.append(Zone(inclusion=item.command == FENCE_POLYGON_INCLUSION, polygon=vertices))
            i += count
            continue
        if item.command in (FENCE_CIRCLE_INCLUSION, FENCE_CIRCLE_EXCLUSION):
            zones.append(
                Zone(
                    inclusion=item.command == FENCE_CIRCLE_INCLUSION,
                    center=(item.x * 1e-7, item.y * 1e-7),
                    radius_m=item.param1,
                )
            )
        i += 1
    return zones


def breached(zones: list[Zone], lat_deg: float, lon_deg: float) -> bool:
    """Outside all inclusion zones (if any), or inside an exclusion zone."""
    inclusions = [z for z in zones if z.inclusion]
    if inclusions and not any(z.contains(lat_deg, lon_deg) for z in inclusions):
        return True
    return any(z.contains(lat_deg, lon_deg) for z in zones if not z.inclusion)
