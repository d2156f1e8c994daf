"""The small typed seam between the drone's flight logic and its autopilot link.

``drone.py`` decides what to do (preflight, the job's flight, policies); a ``Vehicle``
only does what it is told and keeps a live ``VehicleState``. ``mavsdk_drone.py`` is the
``Vehicle`` over MAVSDK, the one module that imports ``mavsdk`` (STYLE: "keep MAVSDK
behind one typed adapter module"). Keeping the seam this narrow is what lets the flight
logic be read (and reasoned about) without MAVSDK's untyped surface in the way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from shared.mission import MissionItem

MAX_WARNINGS = 20


class Mode(StrEnum):
    """Flight modes the flight logic tells apart (PX4 names, as MAVSDK reports them)."""

    UNKNOWN = "UNKNOWN"
    READY = "READY"
    TAKEOFF = "TAKEOFF"
    HOLD = "HOLD"
    MISSION = "MISSION"
    RETURN_TO_LAUNCH = "RETURN_TO_LAUNCH"
    LAND = "LAND"
    OFFBOARD = "OFFBOARD"
    MANUAL = "MANUAL"
    OTHER = "OTHER"
    """A mode the flight logic has no use for (position control, acro...)."""


class Landed(StrEnum):
    UNKNOWN = "unknown"
    ON_GROUND = "on_ground"
    IN_AIR = "in_air"
    TAKING_OFF = "taking_off"
    LANDING = "landing"


@dataclass
class VehicleState:
    """The vehicle as last heard; updated in place by the ``Vehicle`` as messages arrive."""

    discovered: bool = False
    """An autopilot answered at least once since the driver started."""
    connected: bool = False
    """MAVSDK hears the autopilot's heartbeat (it flips ~2-3 s after the last one)."""
    armed: bool = False
    landed: Landed = Landed.UNKNOWN
    mode: Mode = Mode.UNKNOWN
    mode_name: str = "UNKNOWN"
    """The mode as reported, also for ``Mode.OTHER``."""
    lat_deg: float = math.nan
    lon_deg: float = math.nan
    alt_amsl_m: float = math.nan
    """Altitude above mean sea level, metres."""
    height_m: float = math.nan
    """Altitude above home, metres."""
    heading_deg: float = math.nan
    speed_m_s: float = math.nan
    """Ground speed, metres per second."""
    battery_pct: float = math.nan
    """Charge left, 0-100."""
    voltage_v: float = math.nan
    gps_fix: int = 0
    """GPS fix type: 0-1 none, 2 2D, 3 3D, 4 DGPS, 5-6 RTK."""
    satellites: int = 0
    home_set: bool = False
    """The autopilot reported a home position."""
    home_lat_deg: float = math.nan
    home_lon_deg: float = math.nan
    home_alt_amsl_m: float = math.nan
    """The home the autopilot reported (where it took off or will): what its mission
    altitudes relative to home, and its returns, refer to."""
    armable: bool = False
    """The autopilot's pre-arm checks pass."""
    global_position_ok: bool = False
    mission_current: int = -1
    """Index of the mission item being flown; equal to ``mission_total`` once finished;
    -1 before the autopilot said anything about its mission."""
    mission_total: int = 0
    mission_complete: bool = False
    """The autopilot says its mission was flown to the end (MISSION_CURRENT's
    ``mission_state``; False from an autopilot that does not say)."""
    status_text: str = ""
    """The last warning or error text of the autopilot (failsafe reasons show here)."""
    warnings: int = 0
    """How many warning or error texts arrived so far (``recent_warnings`` keeps the
    last ones): lets the flight logic ask "what was said since the mission started"."""
    recent_warnings: list[str] = field(default_factory=list)
    """The last ``MAX_WARNINGS`` warning or error texts, oldest first."""

    def warnings_since(self, count: int) -> list[str]:
        """The texts that arrived after the ``count``-th (as many as are kept)."""
        new = self.warnings - count
        return self.recent_warnings[-new:] if new > 0 else []

    @property
    def on_ground(self) -> bool:
        return self.landed is Landed.ON_GROUND

    @property
    def down_and_safe(self) -> bool:
        """Landed and disarmed: the end of every flight."""
        return self.landed is Landed.ON_GROUND and not self.armed


class Outcome(StrEnum):
    """How a vehicle command failed."""

    DENIED = "denied"
    TIMEOUT = "timeout"
    UNSUPPORTED = "unsupported"
    BUSY = "busy"
    INVALID = "invalid"
    NO_VEHICLE = "no_vehicle"
    FAILED = "failed"


class VehicleCommandError(Exception):
    """The vehicle did not carry out ``command``: ``outcome`` says how, ``detail`` what."""

    def __init__(self, command: str, outcome: Outcome, detail: str = "") -> None:
        super().__init__(f"{command}: {outcome}" + (f" ({detail})" if detail else ""))
        self.command = command
        self.outcome = outcome
        self.detail = detail


class Vehicle(Protocol):
    """An autopilot over some link. Commands raise ``VehicleCommandError``."""

    state: VehicleState

    async def open(self, wait_s: float) -> None:
        """Start listening; wait up to ``wait_s`` for the autopilot (it may come later)."""
        ...

    async def close(self) -> None: ...

    async def changed(self, timeout_s: float) -> None:
        """Return when ``state`` changed, or after ``timeout_s`` (no error)."""
        ...

    async def arm(self) -> None: ...

    async def disarm(self) -> None: ...

    async def kill(self) -> None: ...

    async def set_takeoff_altitude(self, height_m: float) -> None: ...

    async def takeoff(self) -> None: ...

    async def land(self) -> None: ...

    async def return_to_launch(self) -> None: ...

    async def hold(self) -> None: ...

    async def goto(self, lat_deg: float, lon_deg: float, alt_amsl_m: float) -> None: ...

    async def set_speed(self, speed_m_s: float) -> None: ...

    async def upload_mission(self, items: Sequence[MissionItem]) -> None: ...

    async def upload_geofence(self, items: Sequence[MissionItem]) -> None: ...

    async def upload_rally_points(self, items: Sequence[MissionItem]) -> None: ...

    async def download_geofence(self) -> list[MissionItem]:
        """The geofence the vehicle holds now (empty: none)."""
        ...

    async def start_mission(self) -> None: ...
