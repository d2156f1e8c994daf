"""One simulated PX4 multicopter as pure state plus ``step(dt_s)``: no I/O, no asyncio.

Everything a MAVLink client can observe (position, modes, landed state, battery, GPS,
mission progress, failsafes) is decided here, so it is unit-tested directly and the
network code around it stays thin. Time only moves through ``step``; the fleet decides
how simulated seconds relate to wall seconds.

Chosen behaviours where PX4 has options (documented so tests and users can rely on them):

- Low battery, ``COM_LOW_BAT_ACT``: 0 warn only; 1 RTL at ``BAT_LOW_THR``; 2 warn at low,
  land at ``BAT_CRIT_THR``; 3 (default) RTL at low, land at critical.
- GPS loss in the air: the vehicle descends in place (AUTO.LAND), like PX4 without a
  position estimate; arming is refused without a 3D fix.
- Data-link loss (``NAV_DLL_ACT``, 0 disabled, 1 hold, 2 RTL, 3 land) is raised by the
  endpoint, which measures heartbeat silence on the wall clock (MAVSDK sends its
  heartbeat at 1 Hz wall whatever the speed-up).
- Geofence breach (``GF_ACTION``): 0 none, 1 warn, 2 hold, 3 RTL, 4 land.
- At the end of a mission the vehicle stays in AUTO.MISSION, holding at the last
  position, mission state COMPLETE (unless the last item was RTL or land).
- No pre-flight auto-disarm (``COM_DISARM_PRFLT``): at high speed-ups it would disarm
  between MAVSDK's arm and takeoff round trips.
- Mission validity, as PX4's navigator and commander decide it: PX4's feasibility check
  (``feasibility.py``) runs when a mission is uploaded, when the fence changes, and when
  home first becomes known with a mission unchecked (PX4 runs it once it can: home, a
  position and the fence loaded); its texts go out as STATUSTEXT. An invalid mission is
  reported ``NO_MISSION`` in MISSION_CURRENT; switching to Mission mode is refused
  ("Switching to Mission is currently not available", TEMPORARILY_REJECTED), as is
  MISSION_START ("Mission start denied! No valid mission", DENIED), and arming *in Mission
  mode* (or in any mode with ``COM_ARM_MIS_REQ`` 1). Arming and taking off in another mode
  are allowed, as on PX4. An invalid mission uploaded while flying one: the vehicle
  leaves Mission mode and holds ("No valid mission available, loitering").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum, IntEnum

from simulator import feasibility, geo, geofence
from simulator.mission_items import (
    CONDITION_GATE,
    DO_CHANGE_SPEED,
    DO_JUMP,
    GLOBAL_FRAMES,
    MISSION_FRAME,
    NAV_DELAY,
    NAV_LAND,
    NAV_LOITER_TIME,
    NAV_LOITER_TO_ALT,
    NAV_LOITER_UNLIM,
    NAV_RETURN_TO_LAUNCH,
    NAV_TAKEOFF,
    NAV_VTOL_LAND,
    NAV_VTOL_TAKEOFF,
    NAV_WAYPOINT,
    MissionItem,
    MissionType,
    whole,
)
from simulator.params import ParamTable


class Px4Mode(Enum):
    """PX4 flight modes as (main mode, sub mode)."""

    MANUAL = (1, 0)
    ALTCTL = (2, 0)
    POSCTL = (3, 0)
    AUTO_READY = (4, 1)
    AUTO_TAKEOFF = (4, 2)
    AUTO_LOITER = (4, 3)
    AUTO_MISSION = (4, 4)
    AUTO_RTL = (4, 5)
    AUTO_LAND = (4, 6)

    @property
    def custom_mode(self) -> int:
        """HEARTBEAT.custom_mode: ``main << 16 | sub << 24``."""
        main, sub = self.value
        return (main << 16) | (sub << 24)

    @classmethod
    def from_main_sub(cls, main: int, sub: int) -> Px4Mode | None:
        """The mode DO_SET_MODE names (sub mode ignored outside AUTO), or None."""
        for mode in cls:
            if mode.value == (main, sub if main == 4 else 0):
                return mode
        return None


class LandedState(IntEnum):
    """MAV_LANDED_STATE."""

    ON_GROUND = 1
    IN_AIR = 2
    TAKEOFF = 3
    LANDING = 4


class MissionState(IntEnum):
    """MISSION_STATE (MISSION_CURRENT.mission_state)."""

    NO_MISSION = 1
    NOT_STARTED = 2
    ACTIVE = 3
    PAUSED = 4
    COMPLETE = 5


class Severity(IntEnum):
    """MAV_SEVERITY values used in STATUSTEXT."""

    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    INFO = 6


BATTERY_DRAIN_PCT_S = {"armed_ground": 0.02, "hover": 0.07}
"""Battery drain, percent per simulated second."""
BATTERY_DRAIN_PER_SPEED_PCT_S = 0.003
"""Extra drain in percent per second for each m/s of horizontal speed."""
CELL_EMPTY_V, CELL_FULL_V = 3.6, 4.2
"""Cell voltage at 0 % and 100 %."""
FALL_SPEED_M_S = 8.0
"""Descent rate of a vehicle disarmed in the air."""
ALT_ACCEPT_M = 1.0
"""Vertical acceptance for waypoints, metres."""
MAX_TEXT_CHARS = 127
"""PX4's longest STATUSTEXT (its log message buffer); longer ones go out in 50-byte chunks."""

TAKEOFF_ITEMS = frozenset({NAV_TAKEOFF, NAV_VTOL_TAKEOFF})
LAND_ITEMS = frozenset({NAV_LAND, NAV_VTOL_LAND})
"""A multicopter flies PX4's VTOL takeoff and land items as plain ones (PX4 says the
mission is "rejected" for them but does not mark it invalid: ``feasibility.py``)."""
POINT_ITEMS = frozenset(
    {NAV_WAYPOINT, NAV_LOITER_UNLIM, NAV_LOITER_TIME, NAV_LOITER_TO_ALT, CONDITION_GATE}
)
"""Items flown to their point (LOITER_TO_ALT and a gate fly like a waypoint here)."""


@dataclass(frozen=True, slots=True)
class Home:
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float


@dataclass(frozen=True, slots=True)
class VehicleEvent:
    """Something a MAVLink client is told about at once."""

    kind: str
    """``item_reached`` (``seq`` set) or ``text`` (``text`` and ``severity`` set)."""
    seq: int = -1
    text: str = ""
    severity: int = Severity.INFO


class Vehicle:
    """The state of one simulated multicopter."""

    def __init__(
        self, params: ParamTable, lat_deg: float, lon_deg: float, ground_alt_amsl_m: float
    ) -> None:
        self.params = params
        self.lat_deg = lat_deg
        self.lon_deg = lon_deg
        self.alt_amsl_m = ground_alt_amsl_m
        """Altitude above mean sea level, metres."""
        self.ground_alt_amsl_m = ground_alt_amsl_m
        """The (flat) ground's altitude AMSL, metres."""
        self.vn_m_s = self.ve_m_s = self.vd_m_s = 0.0
        """Velocity north, east, down, m/s."""
        self.heading_deg = 0.0
        """Heading, degrees clockwise from north, [0, 360)."""
        self.armed = False
        self.mode = Px4Mode.AUTO_LOITER
        self.landed_state = LandedState.ON_GROUND
        self.battery_pct = 100.0
        """Remaining battery, percent."""
        self.gps_lost = False
        """Fault: no GPS (fix 0, no satellites)."""
        self.link_lost = False
        """Set by the endpoint when the GCS heartbeat has been silent too long."""
        self.home: Home | None = None
        self.mission: list[MissionItem] = []
        self.fence: list[MissionItem] = []
        self.rally: list[MissionItem] = []
        self.zones: list[geofence.Zone] = []
        self.mission_valid = False
        """PX4's ``mission_result.valid``: the mission passed the feasibility check."""
        self._mission_checked = True
        """False while a mission waits for home to be checked."""
        self.mission_seq = 0
        """The current mission item."""
        self.sim_time_s = 0.0
        """Simulated seconds since start."""
        self.events: list[VehicleEvent] = []
        """Events not yet sent; the endpoint drains them."""
        self.speed_override_m_s: float | None = None
        self._hold: tuple[float, float, float] = (lat_deg, lon_deg, ground_alt_amsl_m)
        self._takeoff_alt_amsl_m = ground_alt_amsl_m
        self._rtl_phase = "climb"
        self._item_started = False
        self._item_arrived = False
        self._item_wait_s = 0.0
        self._item_target: tuple[float, float, float] | None = None
        self._jump_counts: dict[int, int] = {}
        self._mission_started = False
        self._mission_complete = False
        self._landed_at_s: float | None = None
        self._bat_low = False
        self._bat_crit = False
        self._gps_failsafe = False
        self._fence_breached = False
        self._dll_active = False

    # ----------------------------------------------------------------- observations

    @property
    def rel_alt_m(self) -> float:
        """Altitude above home (or above the ground before home is set), metres."""
        ref = self.home.alt_amsl_m if self.home else self.ground_alt_amsl_m
        return self.alt_amsl_m - ref

    @property
    def height_m(self) -> float:
        return self.alt_amsl_m - self.ground_alt_amsl_m

    @property
    def gps_fix_type(self) -> int:
        """GPS_FIX_TYPE: 3 (3D) normally, 0 when the GPS is lost."""
        return 0 if self.gps_lost else 3

    @property
    def satellites(self) -> int:
        return 0 if self.gps_lost else 14

    @property
    def groundspeed_m_s(self) -> float:
        return math.hypot(self.vn_m_s, self.ve_m_s)

    @property
    def voltage_v(self) -> float:
        cells = self.params.get_int("BAT_N_CELLS")
        return cells * (CELL_EMPTY_V + (CELL_FULL_V - CELL_EMPTY_V) * self.battery_pct / 100)

    @property
    def mission_state(self) -> MissionState:
        if not self.mission or not self.mission_valid:
            return MissionState.NO_MISSION  # PX4 reports an invalid mission as none
        if self._mission_complete:
            return MissionState.COMPLETE
        if self.mode is Px4Mode.AUTO_MISSION:
            return MissionState.ACTIVE
        return MissionState.PAUSED if self._mission_started else MissionState.NOT_STARTED

    @property
    def in_air(self) -> bool:
        return self.landed_state is not LandedState.ON_GROUND

    def arming_problem(self) -> str | None:
        """Why arming would be refused now, or None (the pre-arm check bit)."""
        if self.gps_fix_type < 3:
            return "Arming denied: no 3D GPS fix"
        if self.home is None:
            return "Arming denied: home position not set"
        if self.battery_pct <= self.params["BAT_CRIT_THR"] * 100:
            return "Arming denied: battery critically low"
        mission_needed = self.mode is Px4Mode.AUTO_MISSION or self.params.get_int("COM_ARM_MIS_REQ")
        if mission_needed and not self.mission_valid:
            return "Arming denied: Resolve system health failures first"  # "No valid mission"
        return None

    def snapshot(self) -> dict[str, object]:
        """The state as plain JSON-able values (for ``gosd sim fault status`` and tests)."""
        return {
            "lat_deg": self.lat_deg,
            "lon_deg": self.lon_deg,
            "alt_amsl_m": round(self.alt_amsl_m, 3),
            "rel_alt_m": round(self.rel_alt_m, 3),
            "groundspeed_m_s": round(self.groundspeed_m_s, 3),
            "heading_deg": round(self.heading_deg, 1),
            "armed": self.armed,
            "mode": self.mode.name,
            "landed_state": self.landed_state.name,
            "battery_pct": round(self.battery_pct, 2),
            "gps_fix_type": self.gps_fix_type,
            "satellites": self.satellites,
            "home": None
            if self.home is None
            else [self.home.lat_deg, self.home.lon_deg, self.home.alt_amsl_m],
            "mission_items": len(self.mission),
            "mission_seq": self.mission_seq,
            "mission_state": self.mission_state.name,
            "mission_valid": self.mission_valid,
            "fence_items": len(self.fence),
            "rally_items": len(self.rally),
            "sim_time_s": round(self.sim_time_s, 3),
        }

    # ----------------------------------------------------------------- commands

    def text(self, text: str, severity: Severity = Severity.INFO) -> None:
        self.events.append(VehicleEvent("text", text=text[:MAX_TEXT_CHARS], severity=severity))

    def arm(self, force: bool = False) -> str | None:
        """Arm; the refusal reason, or None when armed."""
        if self.armed:
            return None
        problem = None if force else self.arming_problem()
        if problem:
            return problem
        self.armed = True
        self._landed_at_s = None
        self._bat_low = self._bat_crit = False
        if self.gps_fix_type >= 3 and not self.in_air:
            self.home = Home(self.lat_deg, self.lon_deg, self.alt_amsl_m)
        if self.mode is Px4Mode.AUTO_LOITER:
            self._hold = (self.lat_deg, self.lon_deg, self.alt_amsl_m)
        self.text("Armed by external command")
        return None

    def disarm(self, force: bool = False) -> str | None:
        if not self.armed:
            return None
        if self.in_air and not force:
            return "Disarming denied: not landed"
        self.armed = False
        self.text("Disarmed by external command")
        return None

    def takeoff(self, alt_amsl_m: float | None = None) -> str | None:
        """Take off to ``alt_amsl_m`` (default: ``MIS_TAKEOFF_ALT`` above the ground)."""
        if not self.armed:
            return "Takeoff denied: disarmed"
        if alt_amsl_m is None or not math.isfinite(alt_amsl_m):
            alt_amsl_m = self.ground_alt_amsl_m + self.params["MIS_TAKEOFF_ALT"]
        self._takeoff_alt_amsl_m = max(alt_amsl_m, self.ground_alt_amsl_m + 0.5)
        self._set_mode(Px4Mode.AUTO_TAKEOFF)
        return None

    def set_mode(self, mode: Px4Mode) -> str | None:
        """A mode change asked by the GCS; the refusal reason or None."""
        if mode is Px4Mode.AUTO_MISSION and not self.mission_valid:
            return "Switching to Mission is currently not available"
        if mode is Px4Mode.AUTO_RTL and self.home is None:
            return "RTL denied: no home position"
        if mode is Px4Mode.AUTO_TAKEOFF:
            if not self.armed:
                return "Takeoff denied: disarmed"
            return self.takeoff(None)
        self._set_mode(mode)
        return None

    def start_mission(self, first: int = 0) -> str | None:
        """MISSION_START: fly the mission from ``first``; the refusal reason or None."""
        if not self.mission_valid:
            return "Mission start denied! No valid mission"
        if not 0 <= first < len(self.mission):
            return "Mission start denied: bad item"
        self.set_mission_current(first)
        self._set_mode(Px4Mode.AUTO_MISSION)
        return None

    def reposition(self, lat_deg: float, lon_deg: float, alt_amsl_m: float) -> str | None:
        if not self.armed or not self.in_air:
            return "Reposition denied: not flying"
        self._set_mode(Px4Mode.AUTO_LOITER)
        alt = alt_amsl_m if math.isfinite(alt_amsl_m) else self.alt_amsl_m
        self._hold = (
            lat_deg if math.isfinite(lat_deg) else self.lat_deg,
            lon_deg if math.isfinite(lon_deg) else self.lon_deg,
            alt,
        )
        return None

    def set_speed(self, speed_m_s: float) -> None:
        if math.isfinite(speed_m_s) and speed_m_s > 0:
            self.speed_override_m_s = min(speed_m_s, self.params["MPC_XY_VEL_MAX"])

    def set_home(self, lat_deg: float, lon_deg: float, alt_amsl_m: float) -> None:
        self.home = Home(lat_deg, lon_deg, alt_amsl_m)

    def set_mission_current(self, seq: int) -> bool:
        if not 0 <= seq < len(self.mission):
            return False
        self.mission_seq = seq
        self._mission_complete = False
        self._reset_item()
        return True

    def replace_items(self, mission_type: MissionType, items: list[MissionItem]) -> None:
        """Swap in a completely uploaded (or cleared) list."""
        if mission_type is MissionType.MISSION:
            self.mission = items
            self.mission_seq = 0
            self._jump_counts.clear()
            self._mission_complete = False
            self._mission_started = False
            self._reset_item()
            if not items and self.mode is Px4Mode.AUTO_MISSION:
                self._set_mode(Px4Mode.AUTO_LOITER)
            self._check_mission()
        elif mission_type is MissionType.FENCE:
            self.fence = items
            self.zones = geofence.zones_from_fence(items)
            self._fence_breached = False
            if self.mission:
                self._check_mission()  # PX4 checks the mission again against a new fence
        else:
            self.rally = items

    def _check_mission(self) -> None:
        """PX4's feasibility check of the mission, saying what fails (``feasibility.py``).

        Without home PX4 cannot run it yet: the mission stays invalid, unchecked, and is
        checked once home is known (``step``)."""
        self._mission_checked = self.home is not None or not self.mission
        home = self.home
        verdict = feasibility.check(
            self.mission,
            feasibility.Situation(
                home=None if home is None else (home.lat_deg, home.lon_deg, home.alt_amsl_m),
                position=(self.lat_deg, self.lon_deg),
                landed=not self.in_air,
                zones=self.zones,
                dist_1wp_m=self.params["MIS_DIST_1WP"],
                takeoff_land_req=self.params.get_int("MIS_TKO_LAND_REQ"),
                max_hor_dist_m=self.params["GF_MAX_HOR_DIST"],
                max_ver_dist_m=self.params["GF_MAX_VER_DIST"],
            ),
        )
        if home is None:
            verdict.texts.clear()  # PX4 waits for a position lock before it checks
        self.mission_valid = verdict.valid
        for text, severity in verdict.texts:
            self.text(text, Severity(severity))
        if not verdict.valid and self.mission and self.mode is Px4Mode.AUTO_MISSION:
            # The navigator stops the mission; armed, the commander's failsafe holds. A
            # disarmed vehicle stays in Mission mode, where it cannot be armed now.
            landed = "refusing takeoff" if not self.in_air else "loitering"
            self.text(f"No valid mission available, {landed}", Severity.CRITICAL)
            if self.armed:
                self._set_mode(Px4Mode.AUTO_LOITER)

    def set_battery(self, pct: float) -> None:
        """Fault injection: the battery jumps to ``pct`` percent."""
        self.battery_pct = min(max(pct, 0.0), 100.0)
        if self.battery_pct > self.params["BAT_LOW_THR"] * 100:
            self._bat_low = False
        if self.battery_pct > self.params["BAT_CRIT_THR"] * 100:
            self._bat_crit = False

    # ----------------------------------------------------------------- dynamics

    def step(self, dt_s: float) -> None:
        """Advance the simulation by ``dt_s`` simulated seconds."""
        if dt_s <= 0:
            return
        self.sim_time_s += dt_s
        if self.home is None and self.gps_fix_type >= 3:
            self.home = Home(self.lat_deg, self.lon_deg, self.ground_alt_amsl_m)
        if not self._mission_checked and self.home is not None:
            self._check_mission()
        self._failsafes()
        before = (self.lat_deg, self.lon_deg, self.alt_amsl_m)
        if not self.armed:
            self._unpowered(dt_s)
        elif self.landed_state is LandedState.ON_GROUND and not self._wants_to_climb():
            self._on_ground(dt_s)
        else:
            self._guide(dt_s)
        north_m, east_m = geo.offset_m(before[0], before[1], self.lat_deg, self.lon_deg)
        self.vn_m_s, self.ve_m_s = north_m / dt_s, east_m / dt_s
        self.vd_m_s = (before[2] - self.alt_amsl_m) / dt_s
        if math.hypot(north_m, east_m) > 0.2 * dt_s:
            self.heading_deg = math.degrees(math.atan2(east_m, north_m)) % 360
        self._drain(dt_s)

    def _wants_to_climb(self) -> bool:
        return self.mode in (Px4Mode.AUTO_TAKEOFF, Px4Mode.AUTO_MISSION) and not (
            self.mode is Px4Mode.AUTO_MISSION and (self._mission_complete or not self.mission_valid)
        )

    def _unpowered(self, dt_s: float) -> None:
        if self.height_m > 0:
            self.alt_amsl_m = max(self.ground_alt_amsl_m, self.alt_amsl_m - FALL_SPEED_M_S * dt_s)
            if self.height_m <= 0:
                self._touchdown()
        self.landed_state = LandedState.ON_GROUND if self.height_m <= 0 else self.landed_state

    def _on_ground(self, dt_s: float) -> None:
        del dt_s
        delay_s = self.params["COM_DISARM_LAND"]
        landed_at_s = self._landed_at_s
        if landed_at_s is not None and 0 < delay_s <= self.sim_time_s - landed_at_s:
            self.armed = False
            self._landed_at_s = None
            self.text("Disarmed by landing")

    def _guide(self, dt_s: float) -> None:
        mode = self.mode
        if mode is Px4Mode.AUTO_TAKEOFF:
            self.landed_state = LandedState.TAKEOFF
            self._fly_to(self.lat_deg, self.lon_deg, self._takeoff_alt_amsl_m, dt_s, 0.0)
            if self.alt_amsl_m >= self._takeoff_alt_amsl_m - 0.1:
                self.landed_state = LandedState.IN_AIR
                self.text("Takeoff detected")
                self._set_mode(Px4Mode.AUTO_LOITER)
        elif mode is Px4Mode.AUTO_MISSION:
            self._mission_step(dt_s)
        elif mode is Px4Mode.AUTO_RTL:
            self._rtl_step(dt_s)
        elif mode is Px4Mode.AUTO_LAND:
            self._descend(self.lat_deg, self.lon_deg, dt_s)
        else:  # hold-like: LOITER, READY, POSCTL, ALTCTL, MANUAL without sticks
            lat, lon, alt = self._hold
            self._fly_to(lat, lon, max(alt, self.ground_alt_amsl_m + 1.0), dt_s, self._cruise())
            self._mark_in_air()

    def _mark_in_air(self) -> None:
        if self.height_m > 0.1:
            self.landed_state = LandedState.IN_AIR

    def _cruise(self) -> float:
        return self.speed_override_m_s or self.params["MPC_XY_CRUISE"]

    def _fly_to(self, lat: float, lon: float, alt: float, dt_s: float, speed_m_s: float) -> float:
        """Move toward a point within the speed limits; the horizontal distance left."""
        north_m, east_m = geo.offset_m(self.lat_deg, self.lon_deg, lat, lon)
        dist_m = math.hypot(north_m, east_m)
        step_m = min(dist_m, speed_m_s * dt_s)
        if dist_m > 1e-6 and step_m > 0:
            self.lat_deg, self.lon_deg = geo.moved(
                self.lat_deg, self.lon_deg, north_m * step_m / dist_m, east_m * step_m / dist_m
            )
        dz = alt - self.alt_amsl_m
        up, down = self.params["MPC_Z_VEL_MAX_UP"], self.params["MPC_Z_VEL_MAX_DN"]
        self.alt_amsl_m += min(max(dz, -down * dt_s), up * dt_s)
        self.alt_amsl_m = max(self.alt_amsl_m, self.ground_alt_amsl_m)
        return dist_m - step_m

    def _descend(self, lat: float, lon: float, dt_s: float) -> bool:
        """Land at a point; True once on the ground."""
        self.landed_state = LandedState.LANDING
        fast = self.height_m > self.params["RTL_DESCEND_ALT"] * 0.5 + 5
        rate = self.params["MPC_Z_VEL_MAX_DN"] if fast else self.params["MPC_LAND_SPEED"]
        self._fly_to(lat, lon, self.alt_amsl_m, dt_s, self._cruise())
        self.alt_amsl_m = max(self.ground_alt_amsl_m, self.alt_amsl_m - rate * dt_s)
        if self.height_m <= 0:
            self._touchdown()
            return True
        return False

    def _touchdown(self) -> None:
        self.alt_amsl_m = self.ground_alt_amsl_m
        self.landed_state = LandedState.ON_GROUND
        self._landed_at_s = self.sim_time_s
        self.text("Landing detected")

    def _set_mode(self, mode: Px4Mode) -> None:
        if mode is self.mode and mode is not Px4Mode.AUTO_RTL:
            return
        if mode is Px4Mode.AUTO_LOITER:
            self._hold = (self.lat_deg, self.lon_deg, self.alt_amsl_m)
        if mode is Px4Mode.AUTO_RTL:
            self._rtl_phase = "climb"
        if mode is Px4Mode.AUTO_MISSION:
            if self._mission_complete:
                self.set_mission_current(0)
                self._jump_counts.clear()
            self._mission_started = True
            self._reset_item()
        self.mode = mode

    # ----------------------------------------------------------------- RTL

    def _rtl_step(self, dt_s: float) -> None:
        home = self.home
        if home is None:
            self._descend(self.lat_deg, self.lon_deg, dt_s)
            return
        if self.landed_state is LandedState.ON_GROUND:
            return
        return_alt = home.alt_amsl_m + self.params["RTL_RETURN_ALT"]
        dist_m = geo.distance_m(self.lat_deg, self.lon_deg, home.lat_deg, home.lon_deg)
        if self._rtl_phase == "climb":
            if dist_m <= self.params["NAV_ACC_RAD"]:
                self._rtl_phase = "land"
            elif self.alt_amsl_m >= return_alt - 0.1:
                self._rtl_phase = "return"
            else:
                self._fly_to(self.lat_deg, self.lon_deg, return_alt, dt_s, 0.0)
                self._mark_in_air()
                return
        if self._rtl_phase == "return":
            left = self._fly_to(
                home.lat_deg, home.lon_deg, max(self.alt_amsl_m, return_alt), dt_s, self._cruise()
            )
            self._mark_in_air()
            if left <= 0.05:
                self._rtl_phase = "land"
            return
        self._descend(home.lat_deg, home.lon_deg, dt_s)

    # ----------------------------------------------------------------- missions

    def _reset_item(self) -> None:
        self._item_started = False
        self._item_arrived = False
        self._item_wait_s = 0.0
        self._item_target = None

    def _item_point(self, item: MissionItem) -> tuple[float, float, float]:
        if item.x == 0 and item.y == 0:
            lat, lon = self.lat_deg, self.lon_deg
        else:
            lat, lon = item.x * 1e-7, item.y * 1e-7
        if not math.isfinite(item.z) or item.frame == MISSION_FRAME:
            alt = self.alt_amsl_m
        elif item.frame in GLOBAL_FRAMES:
            alt = item.z
        else:
            alt = (self.home.alt_amsl_m if self.home else self.ground_alt_amsl_m) + item.z
        return lat, lon, alt

    def _reached(self, seq: int) -> None:
        self.events.append(VehicleEvent("item_reached", seq=seq))

    def _advance(self) -> None:
        if self.mission_seq + 1 < len(self.mission):
            self.mission_seq += 1
        else:
            self._mission_complete = True
            self._hold = (self.lat_deg, self.lon_deg, self.alt_amsl_m)
        self._reset_item()

    def _mission_step(self, dt_s: float) -> None:
        if self._mission_complete or not self.mission or not self.mission_valid:
            if self.landed_state is not LandedState.ON_GROUND:
                lat, lon, alt = self._hold
                self._fly_to(lat, lon, alt, dt_s, self._cruise())
            return
        for _ in range(64):  # bounded: DO_JUMP loops cannot hang a step
            if self._mission_complete:
                return
            item = self.mission[self.mission_seq]
            if not self._item_started:
                self._item_started = True
                self._item_target = self._item_point(item)
            if self._run_item(item, dt_s):
                return

    def _implicit_takeoff(self, dt_s: float) -> bool:
        """Climb straight up from the ground before the first non-takeoff item."""
        target = self.ground_alt_amsl_m + self.params["MIS_TAKEOFF_ALT"]
        if self.landed_state is LandedState.ON_GROUND or (
            self.landed_state is LandedState.TAKEOFF and self.alt_amsl_m < target - 0.1
        ):
            self.landed_state = LandedState.TAKEOFF
            self._fly_to(self.lat_deg, self.lon_deg, target, dt_s, 0.0)
            return True
        if self.landed_state is LandedState.TAKEOFF:
            self.landed_state = LandedState.IN_AIR
        return False

    def _run_item(self, item: MissionItem, dt_s: float) -> bool:
        """Work on the current item; True when this step's time is used up.

        Flown: takeoff, waypoint, the loiters, LOITER_TO_ALT and CONDITION_GATE (to their
        point), land, RTL, NAV_DELAY, DO_JUMP, DO_CHANGE_SPEED. Every other command that
        reaches the model is one PX4 accepts at upload and in its feasibility check but
        whose effect the model does not simulate (camera, gimbal, ROI, DO_SET_HOME,
        DO_LAND_START, DO_VTOL_TRANSITION, winch, gripper, actuator...): it is reached at
        once. Commands PX4 does not accept never get here (``item_acceptance.py``)."""
        cmd, seq = item.command, self.mission_seq
        target = self._item_target or self._item_point(item)
        if cmd in TAKEOFF_ITEMS:
            self.landed_state = (
                LandedState.TAKEOFF if self.alt_amsl_m < target[2] - 0.5 else self.landed_state
            )
            if self.alt_amsl_m >= target[2] - 0.5:
                self._mark_in_air()
                self._reached(seq)
                self._advance()
                return False
            self._fly_to(self.lat_deg, self.lon_deg, target[2], dt_s, 0.0)
            return True
        if (cmd in POINT_ITEMS or cmd in LAND_ITEMS) and self._implicit_takeoff(dt_s):
            return True
        if cmd in POINT_ITEMS:
            lat, lon, alt = target
            alt = max(alt, self.ground_alt_amsl_m + 1.0)
            if not self._item_arrived:
                left = self._fly_to(lat, lon, alt, dt_s, self._cruise())
                self._mark_in_air()
                radius = item.param2 if cmd == NAV_WAYPOINT and item.param2 > 0 else 0.0
                radius = radius or self.params["NAV_ACC_RAD"]
                if left > radius or abs(self.alt_amsl_m - alt) > ALT_ACCEPT_M:
                    return True
                self._item_arrived = True
                if cmd == NAV_LOITER_UNLIM:
                    self._reached(seq)
            self._fly_to(lat, lon, alt, dt_s, self._cruise())
            if cmd == NAV_LOITER_UNLIM:
                return True
            self._item_wait_s += dt_s
            hold_s = item.param1 if cmd in (NAV_WAYPOINT, NAV_LOITER_TIME) else 0.0
            if self._item_wait_s < max(hold_s, 0.0):
                return True
            self._reached(seq)
            self._advance()
            return True
        if cmd in LAND_ITEMS:
            lat, lon, _ = target
            if not self._item_arrived:
                left = self._fly_to(lat, lon, self.alt_amsl_m, dt_s, self._cruise())
                if left > self.params["NAV_ACC_RAD"]:
                    return True
                self._item_arrived = True
            if self._descend(lat, lon, dt_s):
                self._reached(seq)
                self._mission_complete = True
            return True
        if cmd == NAV_RETURN_TO_LAUNCH:
            self._reached(seq)
            if seq + 1 >= len(self.mission):
                self._mission_complete = True
            else:
                self.mission_seq += 1
            self._reset_item()
            self._set_mode(Px4Mode.AUTO_RTL)
            return True
        if cmd == NAV_DELAY:
            self._item_wait_s += dt_s
            if self.in_air:
                self._fly_to(self._hold[0], self._hold[1], self._hold[2], dt_s, self._cruise())
            if self._item_wait_s < max(item.param1, 0.0):
                if self._item_wait_s <= dt_s:
                    self._hold = (self.lat_deg, self.lon_deg, self.alt_amsl_m)
                return True
            self._reached(seq)
            self._advance()
            return True
        if cmd == DO_JUMP:
            target_seq, repeat = whole(item.param1, -1), whole(item.param2, 0)
            done = self._jump_counts.get(seq, 0)
            if 0 <= target_seq < len(self.mission) and (repeat < 0 or done < repeat):
                self._jump_counts[seq] = done + 1
                self.mission_seq = target_seq
                self._reset_item()
            else:
                self._advance()
            return False
        if cmd == DO_CHANGE_SPEED:
            self.set_speed(item.param2)
        # accepted by PX4, not simulated (see the docstring): reached at once
        self._reached(seq)
        self._advance()
        return False

    # ----------------------------------------------------------------- failsafes

    def _failsafe_action(self, action: str, why: str) -> None:
        """Switch to hold/rtl/land for a failsafe, never weakening a stronger one."""
        rank = {"warn": 0, "hold": 1, "rtl": 2, "land": 3}
        current = {Px4Mode.AUTO_RTL: 2, Px4Mode.AUTO_LAND: 3}.get(self.mode, 0)
        severity = Severity.CRITICAL if action != "warn" else Severity.WARNING
        self.text(
            f"Failsafe: {why}" + ("" if action == "warn" else f", {action.upper()}"), severity
        )
        if action == "warn" or rank[action] <= current or not self.armed or not self.in_air:
            return
        if action == "rtl" and self.home is None:
            action = "land"
        mode = {"hold": Px4Mode.AUTO_LOITER, "rtl": Px4Mode.AUTO_RTL, "land": Px4Mode.AUTO_LAND}
        self._set_mode(mode[action])

    def _failsafes(self) -> None:
        flying = self.armed and self.in_air
        # battery
        low, crit = self.params["BAT_LOW_THR"] * 100, self.params["BAT_CRIT_THR"] * 100
        act = self.params.get_int("COM_LOW_BAT_ACT")
        if self.battery_pct <= crit and not self._bat_crit and flying:
            self._bat_crit = self._bat_low = True
            self._failsafe_action("land" if act in (2, 3) else "warn", "battery critical")
        elif self.battery_pct <= low and not self._bat_low and flying:
            self._bat_low = True
            self._failsafe_action("rtl" if act in (1, 3) else "warn", "battery low")
        # GPS
        if self.gps_lost and flying and not self._gps_failsafe:
            self._gps_failsafe = True
            self._failsafe_action("land", "GPS lost")
        elif not self.gps_lost and self._gps_failsafe:
            self._gps_failsafe = False
            self.text("GPS regained")
        # data link
        if self.link_lost and not self._dll_active:
            self._dll_active = True
            dll = self.params.get_int("NAV_DLL_ACT")
            if flying and dll:
                self._failsafe_action(
                    {1: "hold", 2: "rtl", 3: "land"}.get(dll, "warn"), "data link lost"
                )
        elif not self.link_lost and self._dll_active:
            self._dll_active = False
            self.text("Data link regained")
        # geofence
        breached = flying and self._outside_fence()
        if breached and not self._fence_breached:
            action = {0: "", 1: "warn", 2: "hold", 3: "rtl", 4: "land"}.get(
                self.params.get_int("GF_ACTION"), "warn"
            )
            if action:
                self._failsafe_action(action, "geofence breached")
        self._fence_breached = breached

    def _outside_fence(self) -> bool:
        home = self.home
        max_hor = self.params["GF_MAX_HOR_DIST"]
        if (
            home
            and max_hor > 0
            and geo.distance_m(home.lat_deg, home.lon_deg, self.lat_deg, self.lon_deg) > max_hor
        ):
            return True
        max_ver = self.params["GF_MAX_VER_DIST"]
        if home and max_ver > 0 and self.rel_alt_m > max_ver:
            return True
        return geofence.breached(self.zones, self.lat_deg, self.lon_deg)

    def _drain(self, dt_s: float) -> None:
        if not self.armed:
            return
        if self.landed_state is LandedState.ON_GROUND:
            rate = BATTERY_DRAIN_PCT_S["armed_ground"]
        else:
            rate = (
                BATTERY_DRAIN_PCT_S["hover"] + BATTERY_DRAIN_PER_SPEED_PCT_S * self.groundspeed_m_s
            )
        self.battery_pct = max(0.0, self.battery_pct - rate * dt_s)
