"""The drone driver's settings (``[driver.mavsdk]``), checked once when the agent starts.

What each setting means is documented with the driver kind, in ``mavsdk_drone.py``; a
bad value stops the agent at start-up with the key named (exit code 2), not a flight.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from edge_agent.drivers.base import DriverConfigError
from shared.mission.feasibility import PX4_DEFAULTS, MissionLimits


class DroneSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[driver.mavsdk]``: the drone driver's settings; documented in ``mavsdk_drone.py``."""

    connection: str = "udpin://0.0.0.0:14540"
    connect_timeout_s: float = 10.0
    vehicle_timeout_s: float = 10.0
    command_timeout_s: float = 10.0
    upload_timeout_s: float = 300.0
    telemetry_period_s: float = 0.5
    telemetry_rate_hz: float | None = None
    default_takeoff_alt_m: float = 10.0
    min_battery_pct: float = 30.0
    emergency_stop_action: Literal["hold", "land", "kill"] = "hold"
    landing_timeout_s: float = 600.0
    takeoff_timeout_s: float = 60.0
    preflight_wait_s: float = 3.0
    """How long preflight waits for the gates to pass (telemetry may still be arriving)."""
    mission_speed_m_s: float | None = None
    mission: MissionLimits = PX4_DEFAULTS
    """``[driver.mavsdk.mission]``: what a job's mission is checked with before upload
    (PX4's own limits, as the vehicle's parameters set them)."""


def load_settings(settings: Mapping[str, Any]) -> DroneSettings:
    try:
        s = msgspec.convert(dict(settings), DroneSettings)
    except msgspec.ValidationError as exc:
        raise DriverConfigError(f"driver.mavsdk: {exc}") from None
    positive = {
        "connect_timeout_s": s.connect_timeout_s,
        "vehicle_timeout_s": s.vehicle_timeout_s,
        "command_timeout_s": s.command_timeout_s,
        "upload_timeout_s": s.upload_timeout_s,
        "telemetry_period_s": s.telemetry_period_s,
        "default_takeoff_alt_m": s.default_takeoff_alt_m,
        "landing_timeout_s": s.landing_timeout_s,
        "takeoff_timeout_s": s.takeoff_timeout_s,
    }
    for name, value in positive.items():
        if not value > 0:
            raise DriverConfigError(f"driver.mavsdk.{name} must be > 0")
    if not s.connection or "://" not in s.connection:
        raise DriverConfigError(f"driver.mavsdk.connection {s.connection!r} is not a URL")
    return s
