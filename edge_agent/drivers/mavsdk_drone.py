"""The ``mavsdk`` driver: a PX4-flavoured drone through MAVSDK 4 (native binding).

This is the only module that imports ``mavsdk`` (DESIGN §3). It is a thin typed adapter,
``MavsdkVehicle``, behind the ``Vehicle`` seam of ``vehicle.py``; the flight logic
(preflight, jobs, policies) lives in ``drone.py``. MAVSDK's subscriptions and commands
are callbacks on MAVSDK's thread, handed to the event loop; commands are blocking calls
run on a small thread pool of the vehicle's own, so nothing blocks the loop.

Settings (``[driver.mavsdk]``, all optional; checked by ``drone_settings.py``):

- ``connection`` (str, default ``udpin://0.0.0.0:14540``): a MAVSDK connection URL. The
  default is PX4 SITL's API port. ``udpin://IP:PORT`` listens, ``udpout://HOST:PORT``
  sends first, ``tcpout://HOST:PORT`` (or ``tcp://``) connects, ``serial:///dev/ttyACM0:57600``
  reads a serial port (a telemetry radio or the flight controller's USB). MAVSDK
  re-establishes UDP by itself after the vehicle goes silent and comes back.
- ``connect_timeout_s`` (float, 10): how long the agent's start waits for the autopilot.
  The agent comes up without it (drone_status ``error``) and attaches when it appears.
- ``vehicle_timeout_s`` (float, 10): a job whose vehicle stays silent this long fails
  with ``vehicle_lost``; a shorter gap only shows as ``error`` in drone_status.
- ``command_timeout_s`` (float, 10): the longest wait for one command's answer (MAVSDK
  gives up after its own retries, ~2 s per attempt, before this).
- ``upload_timeout_s`` (float, 300): the longest wait for a mission, geofence or rally
  upload. Item by item over a lossy radio it takes long: 500 items with 5 % packet loss
  took ~30 s in ``bench/mavsdk_drone.py`` (0.1 s on a clean link).
- ``telemetry_period_s`` (float, 0.5): how often samples go to the agent's telemetry
  (which rate-limits each topic again).
- ``telemetry_rate_hz`` (float, optional): ask the autopilot for position, attitude and
  battery at this rate (SET_MESSAGE_INTERVAL); unset keeps the autopilot's own rates.
- ``default_takeoff_alt_m`` (float, 10): takeoff height when neither the job's
  ``takeoff_alt_m`` nor the mission's takeoff item gives one.
- ``min_battery_pct`` (float, 30): preflight battery gate unless the job sets its own.
- ``emergency_stop_action`` (``hold`` | ``land`` | ``kill``, default ``hold``): see
  ``drone.py``. ``hold`` brakes and hovers at once, which is safe wherever the vehicle
  is; ``land`` descends on whatever is below; ``kill`` stops the motors (the vehicle
  falls): only for test rigs.
- ``landing_timeout_s`` (float, 600): how long a job waits for the vehicle to be down
  after an RTL or a land (flight time home included).
- ``mission_speed_m_s`` (float, optional): a cruise speed set at every mission start,
  unless the job gives ``speed_m_s``.
- ``mission`` (table ``[driver.mavsdk.mission]``, PX4's defaults): the limits a job's
  mission is checked with before upload, as PX4 would check it (``shared.mission.
  feasibility.MissionLimits``): ``max_first_waypoint_distance_m`` (10000, PX4's
  ``MIS_DIST_1WP``; 0: off), ``max_waypoint_distance_m`` (0: off; ``MIS_DIST_WPS``),
  ``takeoff_land_required`` (0..5, ``MIS_TKO_LAND_REQ``), ``below_home`` (``refuse`` |
  ``allow``). Set them as the vehicle's own parameters are set, so what the agent refuses
  is what the vehicle would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mavsdk import logging as mavsdk_logging
from mavsdk.component_type import ComponentType
from mavsdk.connection_result import ConnectionResult
from mavsdk.mavsdk import Configuration, Mavsdk
from mavsdk.plugins.action import Action, ActionError, ActionResult
from mavsdk.plugins.mavlink_direct import MavlinkDirect
from mavsdk.plugins.mission_raw import MissionItem as RawItem
from mavsdk.plugins.mission_raw import MissionRaw, MissionRawError, MissionRawResult
from mavsdk.plugins.telemetry import FlightMode, LandedState, StatusTextType, Telemetry

from edge_agent.drivers.base import Driver
from edge_agent.drivers.vehicle import (
    MAX_WARNINGS,
    Landed,
    Mode,
    Outcome,
    VehicleCommandError,
    VehicleState,
)
from shared.mission import MissionItem

log = logging.getLogger(__name__)

COMMAND_THREADS = 4
"""Commands in flight at once per vehicle. MAVSDK's blocking calls run on these threads,
not on the loop's shared pool. (Its ``*_async`` calls are no way out: the parameter
ones, like ``set_takeoff_altitude_async``, block the caller until answered.)"""

_MODES = {
    FlightMode.READY: Mode.READY,
    FlightMode.TAKEOFF: Mode.TAKEOFF,
    FlightMode.HOLD: Mode.HOLD,
    FlightMode.MISSION: Mode.MISSION,
    FlightMode.RETURN_TO_LAUNCH: Mode.RETURN_TO_LAUNCH,
    FlightMode.LAND: Mode.LAND,
    FlightMode.OFFBOARD: Mode.OFFBOARD,
    FlightMode.MANUAL: Mode.MANUAL,
    FlightMode.UNKNOWN: Mode.UNKNOWN,
}
_LANDED = {
    LandedState.UNKNOWN: Landed.UNKNOWN,
    LandedState.ON_GROUND: Landed.ON_GROUND,
    LandedState.IN_AIR: Landed.IN_AIR,
    LandedState.TAKING_OFF: Landed.TAKING_OFF,
    LandedState.LANDING: Landed.LANDING,
}
_ACTION_OUTCOMES = {
    ActionResult.NO_SYSTEM: Outcome.NO_VEHICLE,
    ActionResult.CONNECTION_ERROR: Outcome.NO_VEHICLE,
    ActionResult.BUSY: Outcome.BUSY,
    ActionResult.COMMAND_DENIED: Outcome.DENIED,
    ActionResult.COMMAND_DENIED_LANDED_STATE_UNKNOWN: Outcome.DENIED,
    ActionResult.COMMAND_DENIED_NOT_LANDED: Outcome.DENIED,
    ActionResult.TIMEOUT: Outcome.TIMEOUT,
    ActionResult.UNSUPPORTED: Outcome.UNSUPPORTED,
    ActionResult.NO_VTOL_TRANSITION_SUPPORT: Outcome.UNSUPPORTED,
    ActionResult.PARAMETER_ERROR: Outcome.INVALID,
    ActionResult.INVALID_ARGUMENT: Outcome.INVALID,
}
_MISSION_OUTCOMES = {
    MissionRawResult.NO_SYSTEM: Outcome.NO_VEHICLE,
    MissionRawResult.BUSY: Outcome.BUSY,
    MissionRawResult.TIMEOUT: Outcome.TIMEOUT,
    MissionRawResult.UNSUPPORTED: Outcome.UNSUPPORTED,
    MissionRawResult.DENIED: Outcome.DENIED,
    MissionRawResult.INVALID_ARGUMENT: Outcome.INVALID,
    MissionRawResult.TOO_MANY_MISSION_ITEMS: Outcome.INVALID,
    MissionRawResult.INVALID_SEQUENCE: Outcome.INVALID,
    MissionRawResult.MISSION_TYPE_NOT_CONSISTENT: Outcome.INVALID,
    MissionRawResult.CURRENT_INVALID: Outcome.INVALID,
    MissionRawResult.INT_MESSAGES_NOT_SUPPORTED: Outcome.UNSUPPORTED,
}
_UPLOAD_OUTCOMES = {
    **_MISSION_OUTCOMES,
    MissionRawResult.UNSUPPORTED: Outcome.INVALID,
    MissionRawResult.PROTOCOL_ERROR: Outcome.INVALID,
}
"""An upload's failures: what the vehicle refuses in the items is the mission's fault."""
_UPLOAD_REFUSALS = {
    MissionRawResult.UNSUPPORTED: "an item's command or frame is not one the vehicle takes "
    "(MAV_MISSION_UNSUPPORTED or UNSUPPORTED_FRAME; MAVSDK names neither which nor the item)",
    MissionRawResult.INVALID_ARGUMENT: "an item's parameter is out of what the vehicle takes "
    "(MAV_MISSION_INVALID_PARAM*)",
    MissionRawResult.PROTOCOL_ERROR: "the vehicle answered MAV_MISSION_ERROR (PX4: a fence or "
    "rally item in the mission, or a fence polygon of fewer than 3 vertices)",
    MissionRawResult.TOO_MANY_MISSION_ITEMS: "more items than the vehicle can hold",
    MissionRawResult.DENIED: "the vehicle does not take a mission now",
}
"""What MAVSDK's upload results mean, in the words the job's failure detail gives."""
_WARNINGS = frozenset(
    {
        StatusTextType.WARNING,
        StatusTextType.ERROR,
        StatusTextType.CRITICAL,
        StatusTextType.ALERT,
        StatusTextType.EMERGENCY,
    }
)


MISSION_STATE_COMPLETE = 5
"""MAVLink MISSION_STATE_COMPLETE: every item was flown."""


def _mission_state(message: Any) -> dict[str, Any]:
    """``mission_complete`` from a MISSION_CURRENT as MavlinkDirect gives it (JSON fields);
    nothing from an autopilot that does not send the field."""
    try:
        fields = json.loads(message.fields_json)
        state = fields.get("mission_state")
    except (ValueError, AttributeError):
        return {}
    if not isinstance(state, int):
        return {}
    return {"mission_complete": state == MISSION_STATE_COMPLETE}


def _ok(value: float) -> bool:
    return not math.isnan(value)


_MAVSDK_LOG = logging.getLogger("mavsdk")
_MAVSDK_LEVELS = {
    mavsdk_logging.LogLevel.DEBUG: logging.DEBUG,
    mavsdk_logging.LogLevel.INFO: logging.DEBUG,
    mavsdk_logging.LogLevel.WARN: logging.WARNING,
    mavsdk_logging.LogLevel.ERROR: logging.ERROR,
}
"""MAVSDK's own levels in ours: its ``info`` lines (versions, discovery, every autopilot
text) are library detail, shown at the agent's DEBUG level."""


def _log_mavsdk(level: mavsdk_logging.LogLevel, message: str, file: str | None, line: int) -> bool:
    _MAVSDK_LOG.log(_MAVSDK_LEVELS.get(level, logging.WARNING), "%s", message)
    return True  # handled: MAVSDK prints nothing itself


def route_mavsdk_logs() -> None:
    """Send MAVSDK's log lines through Python logging (format, level, destination of the
    agent's own) instead of MAVSDK printing coloured lines to stdout. Idempotent."""
    mavsdk_logging.log_subscribe(_log_mavsdk)


class MavsdkVehicle:
    """One autopilot on one MAVSDK connection URL."""

    def __init__(
        self,
        connection: str,
        *,
        command_timeout_s: float = 10.0,
        upload_timeout_s: float = 300.0,
        telemetry_rate_hz: float | None = None,
    ) -> None:
        self.connection = connection
        self.command_timeout_s = command_timeout_s
        self.upload_timeout_s = upload_timeout_s
        self.telemetry_rate_hz = telemetry_rate_hz
        self.state = VehicleState()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._mavsdk: Mavsdk | None = None
        self._wait_handle: Any = None
        self._found = asyncio.Event()
        self._changed = asyncio.Event()
        self._system: Any = None
        self._action: Action | None = None
        self._mission: MissionRaw | None = None
        self._telemetry: Telemetry | None = None
        self._direct: MavlinkDirect | None = None
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=COMMAND_THREADS, thread_name_prefix="mavsdk-command"
        )

    # Life cycle ---------------------------------------------------------------------

    async def open(self, wait_s: float) -> None:
        self._loop = asyncio.get_running_loop()
        route_mavsdk_logs()
        config = Configuration.create_with_component_type(ComponentType.GROUND_STATION)
        self._mavsdk = Mavsdk(config)
        result = self._mavsdk.add_any_connection(self.connection)
        if result != ConnectionResult.SUCCESS:
            self._mavsdk.destroy()
            self._mavsdk = None
            raise VehicleCommandError(
                "connect", Outcome.FAILED, f"{self.connection}: {ConnectionResult(result).name}"
            )
        self._wait_handle = self._mavsdk.first_autopilot_async(-1.0, self._on_autopilot)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self._found.wait()
        if not self._found.is_set() and wait_s > 0:
            log.warning("no autopilot on %s after %.0f s: waiting on", self.connection, wait_s)

    async def close(self) -> None:
        for plugin in (self._action, self._mission, self._telemetry, self._direct):
            if plugin is not None:
                plugin.destroy()
        if self._mavsdk is not None:
            if self._wait_handle is not None:
                self._mavsdk.cancel_first_autopilot(self._wait_handle)
            self._mavsdk.destroy()
        self._mavsdk = None
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def changed(self, timeout_s: float) -> None:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._changed.wait()

    # Callbacks (MAVSDK's thread) ----------------------------------------------------

    def _to_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the event loop (from MAVSDK's callback thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(fn, *args)

    def _on_autopilot(self, system: Any) -> None:
        self._to_loop(self._attach, system)

    def _update(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self.state, name, value)
        self._changed.set()

    def _subscriber(
        self, convert: Callable[[Any], Mapping[str, Any]]
    ) -> Callable[[Any, Any], None]:
        def callback(data: Any, _user_data: Any) -> None:
            self._to_loop(lambda: self._update(**convert(data)))

        return callback

    def _warning(self, text: Any) -> dict[str, Any]:
        if text.type not in _WARNINGS:
            return {}
        kept = [*self.state.recent_warnings[-(MAX_WARNINGS - 1) :], str(text.text)]
        return {
            "status_text": str(text.text),
            "warnings": self.state.warnings + 1,
            "recent_warnings": kept,
        }

    def _attach(self, system: Any) -> None:
        """Create the plugins of the autopilot found and subscribe to what the state needs."""
        if system is None or self._mavsdk is None or self._system is not None:
            return
        self._system = system
        self._action = Action(system)
        self._mission = MissionRaw(system)
        telemetry = self._telemetry = Telemetry(system)
        s = self._subscriber
        system.subscribe_is_connected(s(lambda c: {"connected": bool(c), "discovered": True}))
        telemetry.subscribe_armed(s(lambda a: {"armed": bool(a)}))
        telemetry.subscribe_landed_state(s(lambda v: {"landed": _LANDED.get(v, Landed.UNKNOWN)}))
        telemetry.subscribe_flight_mode(
            s(lambda m: {"mode": _MODES.get(m, Mode.OTHER), "mode_name": m.name})
        )
        telemetry.subscribe_position(
            s(
                lambda p: {
                    "lat_deg": p.latitude_deg,
                    "lon_deg": p.longitude_deg,
                    "alt_amsl_m": p.absolute_altitude_m,
                    "height_m": p.relative_altitude_m,
                }
            )
        )
        telemetry.subscribe_heading(s(lambda h: {"heading_deg": h.heading_deg}))
        telemetry.subscribe_velocity_ned(
            s(lambda v: {"speed_m_s": math.hypot(v.north_m_s, v.east_m_s)})
        )
        telemetry.subscribe_battery(
            s(lambda b: {"battery_pct": b.remaining_percent, "voltage_v": b.voltage_v})
        )
        telemetry.subscribe_gps_info(
            s(lambda g: {"gps_fix": int(g.fix_type), "satellites": g.num_satellites})
        )
        telemetry.subscribe_home(
            s(
                lambda h: {
                    "home_set": _ok(h.latitude_deg),
                    "home_lat_deg": h.latitude_deg,
                    "home_lon_deg": h.longitude_deg,
                    "home_alt_amsl_m": h.absolute_altitude_m,
                }
            )
        )
        telemetry.subscribe_health(
            s(
                lambda h: {
                    "armable": bool(h.is_armable),
                    "global_position_ok": bool(h.is_global_position_ok),
                }
            )
        )
        telemetry.subscribe_status_text(s(self._warning))
        self._mission.subscribe_mission_progress(
            s(lambda p: {"mission_current": p.current, "mission_total": p.total})
        )
        # MissionRaw's progress says "finished" only after the last MISSION_ITEM_REACHED,
        # which an agent restarted after it was sent never gets; MISSION_CURRENT's
        # mission_state tells (PX4 1.14+, the simulator).
        self._direct = MavlinkDirect(system)
        self._direct.subscribe_message("MISSION_CURRENT", s(_mission_state))
        self._update(discovered=True, connected=bool(system.is_connected()))
        self._found.set()
        log.info("autopilot found on %s", self.connection)
        if self.telemetry_rate_hz is not None:
            rate = self.telemetry_rate_hz
            for setter in (
                telemetry.set_rate_position,
                telemetry.set_rate_battery,
                telemetry.set_rate_velocity_ned,
            ):
                # Best effort, off the loop: an autopilot may refuse a rate.
                self._threads.submit(setter, rate)

    # Commands -----------------------------------------------------------------------

    async def _call(
        self,
        command: str,
        call: Callable[[], object],
        outcomes: Mapping[Any, Outcome],
        *,
        timeout_s: float | None = None,
        meanings: Mapping[Any, str] | None = None,
    ) -> None:
        """Run a blocking MAVSDK call on the vehicle's own threads; map its failure (and
        say what the result means, where ``meanings`` knows)."""
        if self._system is None:
            raise VehicleCommandError(command, Outcome.NO_VEHICLE, "no autopilot found yet")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout_s or self.command_timeout_s):
                await loop.run_in_executor(self._threads, call)
        except TimeoutError:
            raise VehicleCommandError(command, Outcome.TIMEOUT, "no answer") from None
        except (ActionError, MissionRawError) as exc:
            outcome = outcomes.get(exc.result, Outcome.FAILED)
            meaning = (meanings or {}).get(exc.result)
            detail = exc.result.name + (f": {meaning}" if meaning else "")
            raise VehicleCommandError(command, outcome, detail) from None

    @property
    def _act(self) -> Action:
        assert self._action is not None
        return self._action

    @property
    def _mis(self) -> MissionRaw:
        assert self._mission is not None
        return self._mission

    async def _action_call(self, command: str, name: str, *args: Any) -> None:
        method = getattr(self._act, name) if self._action is not None else None
        await self._call(command, lambda: method(*args) if method else None, _ACTION_OUTCOMES)

    async def arm(self) -> None:
        await self._action_call("arm", "arm")

    async def disarm(self) -> None:
        await self._action_call("disarm", "disarm")

    async def kill(self) -> None:
        await self._action_call("kill", "kill")

    async def set_takeoff_altitude(self, height_m: float) -> None:
        await self._action_call("set takeoff altitude", "set_takeoff_altitude", height_m)

    async def takeoff(self) -> None:
        await self._action_call("takeoff", "takeoff")

    async def land(self) -> None:
        await self._action_call("land", "land")

    async def return_to_launch(self) -> None:
        await self._action_call("return to launch", "return_to_launch")

    async def hold(self) -> None:
        await self._action_call("hold", "hold")

    async def goto(self, lat_deg: float, lon_deg: float, alt_amsl_m: float) -> None:
        await self._action_call("goto", "goto_location", lat_deg, lon_deg, alt_amsl_m, math.nan)

    async def set_speed(self, speed_m_s: float) -> None:
        await self._action_call("set speed", "set_current_speed", speed_m_s)

    async def _upload(self, command: str, name: str, items: Sequence[MissionItem]) -> None:
        raw = [
            RawItem(
                seq=i.seq,
                frame=i.frame,
                command=i.command,
                current=i.current,
                autocontinue=i.autocontinue,
                param1=i.param1,
                param2=i.param2,
                param3=i.param3,
                param4=i.param4,
                x=i.x,
                y=i.y,
                z=i.z,
                mission_type=i.mission_type,
            )
            for i in items
        ]

        method = getattr(self._mis, name) if self._mission is not None else None
        await self._call(
            command,
            lambda: method(raw) if method else None,
            _UPLOAD_OUTCOMES,
            timeout_s=self.upload_timeout_s,
            meanings=_UPLOAD_REFUSALS,
        )

    async def upload_mission(self, items: Sequence[MissionItem]) -> None:
        await self._upload("upload mission", "upload_mission", items)

    async def upload_geofence(self, items: Sequence[MissionItem]) -> None:
        await self._upload("upload geofence", "upload_geofence", items)

    async def upload_rally_points(self, items: Sequence[MissionItem]) -> None:
        await self._upload("upload rally points", "upload_rally_points", items)

    async def download_geofence(self) -> list[MissionItem]:
        mission = self._mission
        found: list[RawItem] = []

        def download() -> None:
            if mission is not None:
                found.extend(mission.download_geofence())

        await self._call("download geofence", download, _MISSION_OUTCOMES)
        return [
            MissionItem(
                seq=int(i.seq),
                frame=int(i.frame),
                command=int(i.command),
                current=int(i.current),
                autocontinue=int(i.autocontinue),
                param1=float(i.param1),
                param2=float(i.param2),
                param3=float(i.param3),
                param4=float(i.param4),
                x=int(i.x),
                y=int(i.y),
                z=float(i.z),
                mission_type=int(i.mission_type),
            )
            for i in found
        ]

    async def start_mission(self) -> None:
        mission = self._mission
        await self._call(
            "start mission", lambda: mission.start_mission() if mission else None, _MISSION_OUTCOMES
        )


def create_driver(settings: Mapping[str, Any]) -> Driver:
    """The ``mavsdk`` driver kind: the flight logic over a ``MavsdkVehicle``."""
    from edge_agent.drivers.drone import DroneDriver
    from edge_agent.drivers.drone_settings import load_settings

    s = load_settings(settings)
    vehicle = MavsdkVehicle(
        s.connection,
        command_timeout_s=s.command_timeout_s,
        upload_timeout_s=s.upload_timeout_s,
        telemetry_rate_hz=s.telemetry_rate_hz,
    )
    return DroneDriver(s, vehicle, kind="mavsdk")
