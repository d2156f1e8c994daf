"""COMMAND_LONG / COMMAND_INT on the vehicle side: what each command does and its ACK.

PX4's answers are copied in kind: DENIED (with a STATUSTEXT saying why) when a check
fails, TEMPORARILY_REJECTED when the current state forbids it (takeoff while disarmed),
UNSUPPORTED for commands it does not know. MAVSDK turns these into distinct errors, so
the edge agent sees the same failures it would see on a real vehicle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from pymavlink.dialects.v20 import common as mavlink

from simulator.faults import Faults
from simulator.mission_items import MAX_ALT_M
from simulator.vehicle import Px4Mode, Severity, Vehicle

ACCEPTED: int = mavlink.MAV_RESULT_ACCEPTED
TEMPORARILY_REJECTED: int = mavlink.MAV_RESULT_TEMPORARILY_REJECTED
DENIED: int = mavlink.MAV_RESULT_DENIED
UNSUPPORTED: int = mavlink.MAV_RESULT_UNSUPPORTED
FAILED: int = mavlink.MAV_RESULT_FAILED

FORCE_MAGIC = 21196
"""param2 of ARM_DISARM that skips the checks (PX4 and ArduPilot)."""

RELATIVE_ALT_FRAMES = frozenset({3, 6, 10, 11})
POSITION_COMMANDS = frozenset({
    mavlink.MAV_CMD_NAV_TAKEOFF, mavlink.MAV_CMD_NAV_LAND, mavlink.MAV_CMD_DO_REPOSITION,
    mavlink.MAV_CMD_DO_SET_HOME,
})  # fmt: skip
"""Commands whose param5..7 (x, y, z) are a latitude, longitude and altitude."""


@dataclass(frozen=True, slots=True)
class Command:
    """A command from either message, positions already in degrees and metres."""

    command: int
    params: tuple[float, float, float, float]
    """param1..param4."""
    lat_deg: float
    lon_deg: float
    alt_m: float
    frame: int = 0
    """COMMAND_INT's frame (0, global, for COMMAND_LONG)."""

    @classmethod
    def from_long(cls, msg: Any) -> Command:
        params = (msg.param1, msg.param2, msg.param3, msg.param4)
        return cls(int(msg.command), params, msg.param5, msg.param6, msg.param7)

    @classmethod
    def from_int(cls, msg: Any) -> Command:
        """x/y of 0/0 mean "no position" (NaN), as PX4 reads them."""
        x, y = int(msg.x), int(msg.y)
        lat = x * 1e-7 if x or y else math.nan
        lon = y * 1e-7 if x or y else math.nan
        params = (msg.param1, msg.param2, msg.param3, msg.param4)
        return cls(int(msg.command), params, lat, lon, msg.z, int(msg.frame))


class MessageService(Protocol):
    """What the endpoint offers the message-related commands."""

    def set_interval(self, message_id: int, interval_s: float | None) -> bool:
        """``None``: back to default; <= 0 ... disabled. False if unknown message."""
        ...

    def send_once(self, message_id: int) -> bool:
        """Send a message now; False if the vehicle cannot produce it."""
        ...


def execute(cmd: Command, vehicle: Vehicle, faults: Faults, service: MessageService) -> int:
    """Do what ``cmd`` asks; the MAV_RESULT to answer with."""
    if faults.rejects(cmd.command):
        vehicle.text(f"Command {cmd.command} rejected (fault injected)", Severity.WARNING)
        return DENIED
    p1, p2, p3, _p4 = cmd.params
    c = cmd.command
    if c == mavlink.MAV_CMD_COMPONENT_ARM_DISARM:
        force = _whole(p2) == FORCE_MAGIC
        reason = vehicle.arm(force) if _whole(p1) == 1 else vehicle.disarm(force)
        return _refused(vehicle, reason, DENIED)
    if not _sane(cmd):
        vehicle.text(f"Command {c} denied: position or altitude out of range", Severity.WARNING)
        return DENIED
    if c == mavlink.MAV_CMD_NAV_TAKEOFF:
        return _refused(
            vehicle,
            vehicle.takeoff(cmd.alt_m if math.isfinite(cmd.alt_m) else None),
            TEMPORARILY_REJECTED,
        )
    if c == mavlink.MAV_CMD_NAV_LAND:
        vehicle.set_mode(Px4Mode.AUTO_LAND)
        return ACCEPTED
    if c == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
        return _refused(vehicle, vehicle.set_mode(Px4Mode.AUTO_RTL), TEMPORARILY_REJECTED)
    if c == mavlink.MAV_CMD_DO_SET_MODE:
        if not _whole(p1) & mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
            return DENIED
        mode = Px4Mode.from_main_sub(_whole(p2), _whole(p3))
        if mode is None:
            vehicle.text("Mode change denied: unknown mode", Severity.WARNING)
            return DENIED
        return _refused(vehicle, vehicle.set_mode(mode), TEMPORARILY_REJECTED)
    if c == mavlink.MAV_CMD_MISSION_START:
        first = _whole(p1)
        return _refused(vehicle, vehicle.start_mission(max(first, 0)), DENIED)
    if c == mavlink.MAV_CMD_DO_PAUSE_CONTINUE:
        mode = Px4Mode.AUTO_MISSION if _whole(p1) == 1 else Px4Mode.AUTO_LOITER
        return _refused(vehicle, vehicle.set_mode(mode), TEMPORARILY_REJECTED)
    if c == mavlink.MAV_CMD_DO_REPOSITION:
        alt = cmd.alt_m
        if math.isfinite(alt) and cmd.frame in RELATIVE_ALT_FRAMES and vehicle.home:
            alt += vehicle.home.alt_amsl_m
        if math.isfinite(p1) and p1 > 0:
            vehicle.set_speed(p1)
        return _refused(
            vehicle, vehicle.reposition(cmd.lat_deg, cmd.lon_deg, alt), TEMPORARILY_REJECTED
        )
    if c == mavlink.MAV_CMD_DO_CHANGE_SPEED:
        if not (math.isfinite(p2) and p2 > 0):
            return DENIED
        vehicle.set_speed(p2)
        return ACCEPTED
    if c == mavlink.MAV_CMD_DO_SET_HOME:
        if _whole(p1) == 1:
            vehicle.set_home(vehicle.lat_deg, vehicle.lon_deg, vehicle.alt_amsl_m)
            return ACCEPTED
        if not all(math.isfinite(v) for v in (cmd.lat_deg, cmd.lon_deg, cmd.alt_m)):
            return DENIED
        if not (-90 <= cmd.lat_deg <= 90 and -180 <= cmd.lon_deg <= 180):
            return DENIED
        vehicle.set_home(cmd.lat_deg, cmd.lon_deg, cmd.alt_m)
        return ACCEPTED
    if c == mavlink.MAV_CMD_DO_SET_MISSION_CURRENT:
        return ACCEPTED if vehicle.set_mission_current(_whole(p1, -1)) else DENIED
    if c == mavlink.MAV_CMD_SET_MESSAGE_INTERVAL:
        if not math.isfinite(p1) or not math.isfinite(p2):
            return DENIED
        interval = None if p2 == 0 else (-1.0 if p2 < 0 else p2 / 1e6)
        return ACCEPTED if service.set_interval(_whole(p1), interval) else UNSUPPORTED
    if c == mavlink.MAV_CMD_REQUEST_MESSAGE:
        if not math.isfinite(p1):
            return DENIED
        return ACCEPTED if service.send_once(_whole(p1)) else UNSUPPORTED
    if c == mavlink.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES:
        service.send_once(mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION)
        return ACCEPTED
    if c == mavlink.MAV_CMD_GET_HOME_POSITION:
        return (
            ACCEPTED
            if service.send_once(mavlink.MAVLINK_MSG_ID_HOME_POSITION)
            else TEMPORARILY_REJECTED
        )
    return UNSUPPORTED


def _sane(cmd: Command) -> bool:
    """Latitude, longitude and altitude are NaN (not given) or within the earth's ranges."""
    lat, lon, alt = cmd.lat_deg, cmd.lon_deg, cmd.alt_m
    if cmd.command not in POSITION_COMMANDS:
        return True
    return (
        (math.isnan(lat) or -90 <= lat <= 90)
        and (math.isnan(lon) or -180 <= lon <= 180)
        and (math.isnan(alt) or abs(alt) <= MAX_ALT_M)
    )


def _refused(vehicle: Vehicle, reason: str | None, result: int) -> int:
    if reason is None:
        return ACCEPTED
    vehicle.text(reason, Severity.CRITICAL)
    return result


def _whole(value: float, default: int = 0) -> int:
    """A float parameter as an integer; NaN and infinities (unused params) are ``default``."""
    return round(value) if math.isfinite(value) else default
