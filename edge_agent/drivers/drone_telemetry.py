"""A drone's state as the agent's telemetry (DESIGN §4.3): ``drone_status``, ``position``,
``battery`` and ``mission`` samples.

Values the autopilot has not sent yet (NaN in ``VehicleState``) are left out rather than
sent as zeros: a map must not put a drone at 0°N 0°E. ``status`` is ``error`` while the
autopilot is silent, ``flying`` in the air (taking off and landing included), else
``standby``.
"""

from __future__ import annotations

import math

from edge_agent.drivers.base import TelemetrySample
from edge_agent.drivers.vehicle import Landed, VehicleState
from shared.messages import Battery, BatteryBrief, DroneStatus, GpsInfo, Mission, Position


def _round(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def drone_samples(s: VehicleState, job: tuple[str, int] | None) -> list[TelemetrySample]:
    """The samples of state ``s``; ``job`` is the running job's (key, mission items)."""
    if not s.connected:
        status = "error"
    elif s.landed in (Landed.IN_AIR, Landed.TAKING_OFF, Landed.LANDING):
        status = "flying"
    else:
        status = "standby"
    battery_pct = _round(s.battery_pct, 1)
    voltage_v = _round(s.voltage_v, 2)
    out = [
        TelemetrySample(
            "drone_status",
            DroneStatus(
                status=status,
                mode=s.mode_name,
                speed=_round(s.speed_m_s, 2),
                height=_round(s.height_m, 2),
                armed=s.armed,
                gps=GpsInfo(type=s.gps_fix, satcount=s.satellites),
                battery=BatteryBrief(percent=battery_pct, voltage=voltage_v),
            ),
        )
    ]
    if not math.isnan(s.lat_deg):
        out.append(
            TelemetrySample(
                "position",
                Position(
                    lat=round(s.lat_deg, 7),
                    lng=round(s.lon_deg, 7),
                    alt=_round(s.alt_amsl_m, 2),
                    height=_round(s.height_m, 2),
                    heading=_round(s.heading_deg % 360.0, 1),
                ),
            )
        )
    if battery_pct is not None:
        out.append(TelemetrySample("battery", Battery(remain=battery_pct, voltage=voltage_v)))
    if s.mission_total > 0 or job is not None:
        total = job[1] if job else s.mission_total
        out.append(
            TelemetrySample(
                "mission",
                Mission(
                    current=max(0, s.mission_current),
                    total=total,
                    finished=total > 0 and s.mission_current >= total,
                    job=job[0] if job else None,
                ),
            )
        )
    return out
