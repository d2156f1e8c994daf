"""A drone's flight logic: preflight gates, a job's flight, and the safety policies.

It drives any ``Vehicle`` (``vehicle.py``); the ``mavsdk`` driver kind gives it a
``MavsdkVehicle``. Its settings are documented in ``mavsdk_drone.py``.

Decisions, and why:

- **Takeoff is explicit**: arm, ``MIS_TAKEOFF_ALT`` set, takeoff, wait for the height,
  then the mission starts. A mission file with or without its own takeoff item flies the
  same way, and a takeoff that fails says so (stage ``takeoff``) instead of looking like
  a mission that never progresses. The height is the job's ``takeoff_alt_m``, else the
  mission's takeoff item (by its frame, see ``flight_plan``), else ``default_takeoff_alt_m``.
- **Progress**: every mission item reached is one ``running`` event (item, current/total,
  percent, stage ``mission``), even when the autopilot skips ahead in one message: the
  items in between are reported in order, so the history has each one. The autopilot
  says only which item it flies now; ``shared.mission.walk`` follows the mission from
  there, DO_JUMPs included, and says which items were reached on the way. Each item is
  reported once, the first time it is reached: the passes of a repeated section after the
  first add nothing; a DO_JUMP is reached when it is done (its repeats used up, or a
  forward jump made), and the items a forward jump skips are never reported. Item
  numbers and the total are the file's, also when a resume (``extra.resume_from``) flies
  the rest of it behind a takeoff and the settings the first part made.
- **Success** needs the mission finished and, for ``on_finish`` rtl/land, the vehicle
  landed and disarmed. ``hold`` succeeds once the vehicle holds. "Finished" is the
  autopilot's progress past the last item, or its mission state ``complete`` (what an
  agent back after the last item's MISSION_ITEM_REACHED has to go by).
- **A vehicle-side failsafe** (the autopilot leaves the mission on its own: low
  battery, geofence, lost data link) fails the job with a reason saying which
  (``low_battery``, ``geofence``, ``vehicle_failsafe``), once the vehicle is down when
  it is returning or landing; never ``succeeded``.
  The vehicle must stay off its mission for ``FAILSAFE_GRACE_S`` first: modes and
  mission progress arrive in separate messages, and an RTL or land *item* switches the
  autopilot's mode as well. A manual ``action`` during a job ends it ``operator_action``.
- **Cancel** (``stop``): RTL unless the operator asked ``hold`` or ``land``; the job ends
  ``cancelled`` once the vehicle shows the new mode, not after the landing (the
  operator wants control back at once; telemetry shows the way home).
- **Emergency stop**: ``emergency_stop_action`` at once, no preflight, no waiting.
  ``hold`` is the default: brake and hover where it is, which is safe wherever the
  vehicle is (a ``land`` may come down on people or water; ``kill`` drops it).
- **Vehicle silent** longer than ``vehicle_timeout_s`` during a job: ``vehicle_lost``.
  Shorter gaps are ridden out (MAVSDK reconnects UDP by itself); drone_status says
  ``error`` while the autopilot is silent.
- **Re-attach** (``resume``): an agent restarted mid-flight finds the vehicle still
  flying the job's mission (same item count), and follows it from the current item
  instead of starting it again. Told the last item the job's events reported (the
  agent's outbox keeps it), it reports the items reached while it was away, in mission
  order, and none twice: the history of a job flown across restarts lists each item once.
  A vehicle that left the mission meanwhile (a failsafe), landed or still on its way
  down, fails the job for that failsafe's reason, as if the agent had stayed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from edge_agent.drivers.base import (
    DriverConfigError,
    DriverError,
    ProgressReporter,
    TelemetrySample,
)
from edge_agent.drivers.drone_settings import DroneSettings
from edge_agent.drivers.drone_telemetry import drone_samples
from edge_agent.drivers.flight_plan import Flight, check_at_vehicle, plan_flight
from edge_agent.drivers.vehicle import (
    Mode,
    Outcome,
    Vehicle,
    VehicleCommandError,
    VehicleState,
)
from shared import mav_cmd
from shared.errors import JobFailure, RpcErrorCode
from shared.job_options import JobOptions
from shared.messages import JobSpec, Progress
from shared.mission import MissionItem

log = logging.getLogger(__name__)

UPLOAD_ATTEMPTS = 3
"""Tries of a mission, geofence or rally upload that times out."""

FAILSAFE_GRACE_S = 1.0
"""How long the vehicle may be off its mission before that is taken for a failsafe."""

VERDICT_WAIT_S = 1.0
"""How long after a mission upload the agent waits for the vehicle's verdict on it (PX4
sends its feasibility texts within milliseconds; they may trail the upload's answer on a
loaded link) before it arms, unless the verdict came already."""

MISSION_REFUSED = (
    "Mission rejected",
    "First waypoint too far away",
    "Geofence violation for waypoint",
    "Distance between waypoint and gate",
)
"""How PX4 starts the texts of a failed mission feasibility check (after an upload it
stores): a vehicle that said one will not start the mission, so the job ends before
take-off (PX4 itself allows arming and a takeoff outside Mission mode)."""

LOW_BATTERY_PCT = 20.0
"""At or below this charge, a vehicle leaving its mission is taken for the low-battery
failsafe (PX4's default ``BAT_LOW_THR`` is 15 %, its RTL triggers there)."""


_RPC_CODES = {
    Outcome.DENIED: RpcErrorCode.COMMAND_DENIED,
    Outcome.TIMEOUT: RpcErrorCode.VEHICLE_TIMEOUT,
    Outcome.NO_VEHICLE: RpcErrorCode.VEHICLE_TIMEOUT,
    Outcome.UNSUPPORTED: RpcErrorCode.UNSUPPORTED,
    Outcome.BUSY: RpcErrorCode.BUSY,
    Outcome.INVALID: RpcErrorCode.INVALID_PARAMS,
    Outcome.FAILED: RpcErrorCode.COMMAND_DENIED,
}


def rpc_error(exc: VehicleCommandError) -> DriverError:
    """A failed manual command as the RPC error it answers."""
    code = _RPC_CODES[exc.outcome]
    if exc.command == "arm" and exc.outcome is Outcome.DENIED:
        code = RpcErrorCode.NOT_ARMABLE
    return DriverError(code, str(exc))


def job_error(exc: VehicleCommandError) -> DriverError:
    """A failed command during a job as the job's failure."""
    if exc.outcome in (Outcome.TIMEOUT, Outcome.NO_VEHICLE):
        return DriverError(JobFailure.VEHICLE_LOST, str(exc))
    return DriverError(JobFailure.COMMAND_DENIED, str(exc))


class DroneDriver:
    """A multicopter flown through a ``Vehicle``."""

    def __init__(
        self,
        settings: DroneSettings,
        vehicle: Vehicle,
        *,
        kind: str = "mavsdk",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self.settings = settings
        self.vehicle = vehicle
        self._clock = clock
        self._flight: Flight | None = None
        self._taken_over: str | None = None
        """Set when a stop, an emergency stop or a manual action (``action NAME``) changed
        the vehicle's mode during a job: then leaving the mission is no failsafe."""
        self._silent_since: float | None = None
        """Monotonic time the vehicle went silent (None while it is heard)."""

    # Driver basics ------------------------------------------------------------------

    @property
    def actions(self) -> frozenset[str]:
        return frozenset({"arm", "disarm", "takeoff", "land", "rtl", "hold", "goto"})

    @property
    def state(self) -> VehicleState:
        return self.vehicle.state

    async def start(self) -> None:
        try:
            await self.vehicle.open(self.settings.connect_timeout_s)
        except VehicleCommandError as exc:
            raise DriverConfigError(f"driver.mavsdk.connection: {exc}") from None

    async def close(self) -> None:
        await self.vehicle.close()

    def describe(self) -> dict[str, Any]:
        return {
            "type": "drone",
            "driver": self.kind,
            "connection": self.settings.connection,
            "actions": sorted(self.actions),
        }

    # Waiting ------------------------------------------------------------------------

    def _check_link(self) -> None:
        """``vehicle_lost`` once the vehicle was silent longer than ``vehicle_timeout_s``."""
        now = self._clock()
        if self.state.connected:
            self._silent_since = None
            return
        if self._silent_since is None:
            self._silent_since = now
        silent_s = now - self._silent_since
        if silent_s > self.settings.vehicle_timeout_s:
            raise DriverError(
                JobFailure.VEHICLE_LOST,
                f"no message from the vehicle for {silent_s:.0f} s "
                f"(vehicle_timeout_s {self.settings.vehicle_timeout_s:g})",
            )

    async def _until(
        self,
        what: str,
        done: Callable[[VehicleState], bool],
        timeout_s: float,
        *,
        reason: JobFailure = JobFailure.DRIVER_ERROR,
        watch: Callable[[VehicleState], None] | None = None,
    ) -> None:
        """Wait until ``done(state)``; the vehicle link and ``watch`` are checked meanwhile."""
        deadline = self._clock() + timeout_s
        while not done(self.state):
            self._check_link()
            if watch is not None:
                watch(self.state)
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise DriverError(reason, f"{what}: not within {timeout_s:g} s")
            await self.vehicle.changed(min(0.5, remaining))

    # Jobs ---------------------------------------------------------------------------

    async def prepare(self, job: JobSpec, files: Mapping[str, Path]) -> None:
        # Parsing and checking a 10,000-item file takes a while: off the event loop.
        limits, default_m = self.settings.mission, self.settings.default_takeoff_alt_m
        flight, parsed = await asyncio.to_thread(plan_flight, job, files, default_m, limits=limits)
        self._flight, self._taken_over = None, None
        self._check_link()
        # The gates first: a vehicle still flying (returning after a cancel, say) must
        # keep the mission it flies; then again after the upload, which takes time.
        await self._preflight(flight.options)
        # The gates passed, so the vehicle has a home: check the mission again with it
        # and with the geofence the vehicle will fly with (the file's, else its own).
        s = self.state
        fence: Sequence[MissionItem] = parsed.fence
        if not fence:
            try:
                fence = await self.vehicle.download_geofence()
            except VehicleCommandError as exc:  # PX4 still checks its own fence
                log.warning("the vehicle's geofence could not be read (%s): not checked", exc)
        home = (s.home_lat_deg, s.home_lon_deg, s.home_alt_amsl_m)
        await asyncio.to_thread(check_at_vehicle, flight, parsed, limits, home, fence, default_m)
        flight.warnings_at = self.state.warnings  # the vehicle's verdict on it follows
        try:
            await self._upload("mission", self.vehicle.upload_mission, flight.mission)
            if parsed.fence:
                await self._upload("geofence", self.vehicle.upload_geofence, parsed.fence)
            if parsed.rally:
                await self._upload("rally points", self.vehicle.upload_rally_points, parsed.rally)
        except VehicleCommandError as exc:
            if exc.outcome in (Outcome.INVALID, Outcome.DENIED):
                raise DriverError(
                    JobFailure.INVALID_MISSION, f"the vehicle refused the mission: {exc}"
                ) from None
            raise job_error(exc) from None
        flight.uploaded_at = self._clock()
        await self._preflight(flight.options)
        self._flight = flight

    async def _upload(
        self,
        what: str,
        upload: Callable[[Sequence[MissionItem]], Awaitable[None]],
        items: Sequence[MissionItem],
    ) -> None:
        """An upload, again after a timeout: over a lossy radio MAVSDK's per-item retries
        run out now and then (500 items at 5% loss each way), and the vehicle keeps its
        previous list until an upload completes, so trying again is safe."""
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                await upload(items)
                return
            except VehicleCommandError as exc:
                if exc.outcome is not Outcome.TIMEOUT or attempt == UPLOAD_ATTEMPTS:
                    raise
                log.warning(
                    "%s upload timed out (attempt %d of %d): again", what, attempt, UPLOAD_ATTEMPTS
                )

    def _gates(self, options: JobOptions) -> str | None:
        """The first preflight gate that does not pass, with its value; None when all pass."""
        s = self.state
        min_battery = (
            options.min_battery_pct
            if options.min_battery_pct is not None
            else self.settings.min_battery_pct
        )
        if not s.connected:
            return f"vehicle: no autopilot heard on {self.settings.connection}"
        if not s.down_and_safe:
            return f"landed: the vehicle is not landed and disarmed ({s.landed}, armed {s.armed})"
        if s.gps_fix < 3:
            return f"gps: fix type {s.gps_fix} with {s.satellites} satellites (needs a 3D fix)"
        if not s.home_set:
            return "home: the autopilot has no home position"
        if not s.armable:
            text = f" ({s.status_text})" if s.status_text else ""
            return f"armable: the autopilot's pre-arm checks fail{text}"
        if math.isnan(s.battery_pct) or s.battery_pct < min_battery:
            return f"battery: {s.battery_pct:.0f}% is below min_battery_pct {min_battery:g}%"
        return None

    async def _preflight(self, options: JobOptions) -> None:
        deadline = self._clock() + self.settings.preflight_wait_s
        while (failed := self._gates(options)) is not None:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise DriverError(JobFailure.PREFLIGHT_FAILED, failed)
            await self.vehicle.changed(min(0.5, remaining))

    async def run(self, job: JobSpec, report_progress: ProgressReporter) -> None:
        flight = self._flight
        if flight is None or flight.key != job.key:
            raise DriverError(JobFailure.DRIVER_ERROR, f"job {job.key} was not prepared")
        try:
            if flight.phase == "start":
                await self._take_off(flight, report_progress)
                flight.phase = "mission"
            if flight.phase == "mission":
                await self._fly_mission(flight, report_progress)
                flight.phase = "finish"
            if flight.phase == "finish":
                await self._finish(flight, report_progress)
                flight.phase = "done"
        except VehicleCommandError as exc:
            raise job_error(exc) from None
        finally:
            if self._flight is flight:  # over, one way or another
                self._flight = None

    def _refusals(self, flight: Flight) -> list[str]:
        """What the vehicle's mission check said against the mission since its upload (it
        checks again after a fence upload: a text said twice is kept once)."""
        said = self.state.warnings_since(flight.warnings_at)
        return list(dict.fromkeys(t for t in said if t.startswith(MISSION_REFUSED)))

    async def _take_off(self, flight: Flight, report: ProgressReporter) -> None:
        await self.vehicle.set_takeoff_altitude(flight.takeoff_alt_m)
        # PX4 gives its verdict on a new mission right after the upload, but the text may
        # trail the upload's answer: wait for it a moment before arming, not after.
        deadline = flight.uploaded_at + VERDICT_WAIT_S
        while not (refused := self._refusals(flight)) and (left := deadline - self._clock()) > 0:
            await self.vehicle.changed(left)
        if refused:
            raise DriverError(
                JobFailure.INVALID_MISSION, f"the vehicle refused the mission: {'; '.join(refused)}"
            )
        await report(Progress(current=flight.current, total=flight.total, stage="takeoff"))
        await self.vehicle.arm()
        await self.vehicle.takeoff()
        target_m = 0.9 * flight.takeoff_alt_m
        seen_armed = False

        def disarmed(s: VehicleState) -> None:
            nonlocal seen_armed  # the armed state may arrive after the arm's answer
            seen_armed = seen_armed or s.armed
            if seen_armed and s.on_ground and not s.armed:
                raise DriverError(JobFailure.COMMAND_DENIED, "takeoff: the vehicle disarmed")

        await self._until(
            f"takeoff to {flight.takeoff_alt_m:g} m",
            lambda s: s.height_m >= target_m and s.armed,
            self.settings.takeoff_timeout_s,
            reason=JobFailure.COMMAND_DENIED,
            watch=disarmed,
        )
        try:
            await self.vehicle.start_mission()
        except VehicleCommandError as exc:  # what the vehicle said since the upload says why
            words = "; ".join(self.state.warnings_since(flight.warnings_at))
            failure = job_error(exc)
            detail = f"{failure} ({words})" if words else str(failure)
            # A verdict later than VERDICT_WAIT_S (the vehicle is in the air now) is still
            # the mission's fault, not the command's.
            code = JobFailure.INVALID_MISSION if self._refusals(flight) else failure.code
            raise DriverError(code, detail) from None
        speed = flight.options.speed_m_s or self.settings.mission_speed_m_s
        if speed is not None:
            try:
                await self.vehicle.set_speed(speed)
            except VehicleCommandError as exc:
                log.warning("the vehicle did not take speed %g m/s: %s", speed, exc)
        await report(Progress(current=flight.current, total=flight.total, stage="mission"))

    def _finished(self, flight: Flight, s: VehicleState) -> bool:
        if s.mission_current >= flight.uploaded:
            return True
        if s.mission_complete and s.mission_current == flight.uploaded - 1:
            return True  # seen by an agent back after the last item's MISSION_ITEM_REACHED
        # A mission ending with a landing may stop at its last item on the ground.
        return (
            s.down_and_safe
            and s.mission_current == flight.uploaded - 1
            and flight.commands[-1] in (mav_cmd.NAV_LAND, mav_cmd.NAV_RETURN_TO_LAUNCH)
        )

    async def _report_reached(self, flight: Flight, current: int, report: ProgressReporter) -> None:
        """The vehicle flies item ``current`` (the mission's end: finished): one event per
        item reached on the way there, in order (``shared.mission.walk``)."""
        if current < 0:
            return  # the autopilot said nothing about its mission yet
        newly = flight.walk.advance_to(current)
        done = flight.current - len(newly)
        for item in newly:
            done += 1
            await report(
                Progress(
                    current=done,
                    total=flight.total,
                    percent=round(100.0 * done / flight.total, 2),
                    item=item,
                    stage="mission",
                )
            )

    async def _fly_mission(self, flight: Flight, report: ProgressReporter) -> None:
        seen_mission_mode = flight.mission_started or self.state.mode is Mode.MISSION
        started = self._clock()
        off_mission_since: float | None = None
        flight.warnings_at = self.state.warnings
        while True:
            self._check_link()
            s = self.state
            if s.mode is Mode.MISSION:
                seen_mission_mode = True
            # Progress counts once the vehicle flies this mission (before, it may still
            # be the previous mission's). MAVSDK's ``total`` is not used: after a rally
            # or fence upload it is that upload's item count, not the mission's.
            finished = seen_mission_mode and self._finished(flight, s)
            if seen_mission_mode:
                current = flight.uploaded if finished else s.mission_current
                await self._report_reached(flight, current, report)
            if finished:
                return
            if s.mode is Mode.MISSION or self._flown_by_item(flight, s):
                seen_mission_mode, off_mission_since = True, None
            elif self._taken_over is not None:
                if self._taken_over.startswith("action"):
                    raise DriverError(
                        JobFailure.OPERATOR_ACTION,
                        f"the operator's {self._taken_over} took the vehicle off the mission "
                        f"{_after(flight)}",
                    )
                # A stop or an emergency stop: the executor is cancelling the job.
            elif seen_mission_mode:
                # Modes and mission progress arrive in separate messages: give the
                # autopilot a moment to say the new mode is the next item's own.
                off_mission_since = off_mission_since or self._clock()
                if self._clock() - off_mission_since >= FAILSAFE_GRACE_S:
                    await self._failsafe(flight, report)
            elif self._clock() - started > self.settings.command_timeout_s:
                raise DriverError(
                    JobFailure.COMMAND_DENIED,
                    f"the vehicle did not start the mission (mode {s.mode_name})",
                )
            await self.vehicle.changed(0.25)

    def _flown_by_item(self, flight: Flight, s: VehicleState) -> bool:
        """Whether the mode is the current item's own (an RTL or land item switches the
        autopilot to its RTL or land mode): the mission goes on, no failsafe."""
        if not 0 <= s.mission_current < flight.uploaded:
            return False
        command = flight.commands[s.mission_current]
        return (s.mode is Mode.RETURN_TO_LAUNCH and command == mav_cmd.NAV_RETURN_TO_LAUNCH) or (
            s.mode is Mode.LAND and command == mav_cmd.NAV_LAND
        )

    async def _failsafe(self, flight: Flight, report: ProgressReporter) -> None:
        """The vehicle left the mission on its own: fail, once it is down if it is going
        down; the reason comes from what the autopilot said meanwhile."""
        s = self.state
        mode = s.mode_name
        log.warning("job %s: the vehicle left the mission (mode %s)", flight.key, mode)
        if s.mode in (Mode.RETURN_TO_LAUNCH, Mode.LAND) and not s.down_and_safe:
            stage = "returning" if s.mode is Mode.RETURN_TO_LAUNCH else "landing"
            await report(Progress(current=flight.current, total=flight.total, stage=stage))
            await self._wait_down()
        landed = "; the vehicle landed" if self.state.down_and_safe else ""
        said = self.state.warnings_since(flight.warnings_at)
        text = " ".join(said).lower()
        if "battery" in text or self.state.battery_pct <= LOW_BATTERY_PCT:
            reason = JobFailure.LOW_BATTERY
        elif "fence" in text:
            reason = JobFailure.GEOFENCE
        else:
            reason = JobFailure.VEHICLE_FAILSAFE
        detail = (
            f"the vehicle left the mission {_after(flight)}: "
            f"mode {mode}, battery {self.state.battery_pct:.0f}%"
            + (f" ({'; '.join(said)})" if said else "")
            + landed
        )
        raise DriverError(reason, detail)

    async def _finish(self, flight: Flight, report: ProgressReporter) -> None:
        """The ``on_finish`` action, unless the mission's own last item brings it down."""
        done = Progress(current=flight.total, total=flight.total, percent=100.0)
        if self.state.down_and_safe:
            await report(msgspec.structs.replace(done, stage="landed"))
            return
        own = flight.commands[-1] in (mav_cmd.NAV_RETURN_TO_LAUNCH, mav_cmd.NAV_LAND)
        action = flight.options.on_finish
        if own:
            stage = (
                "returning" if flight.commands[-1] == mav_cmd.NAV_RETURN_TO_LAUNCH else "landing"
            )
            await report(msgspec.structs.replace(done, stage=stage))
        elif action == "hold":
            await self._command_mode("hold")
            await report(msgspec.structs.replace(done, stage="holding"))
            return
        else:
            stage = "returning" if action == "rtl" else "landing"
            await report(msgspec.structs.replace(done, stage=stage))
            await self._command_mode(action)
        await self._wait_down()
        await report(msgspec.structs.replace(done, stage="landed"))

    async def _wait_down(self) -> None:
        """Until landed and disarmed (PX4 disarms by itself after landing)."""
        await self._until("landing", lambda s: s.down_and_safe, self.settings.landing_timeout_s)

    # Resume after an agent restart --------------------------------------------------

    async def resume(self, job: JobSpec, files: Mapping[str, Path], last_item: int | None) -> bool:
        """Re-attach to ``job``'s flight; False when the vehicle is not flying it.

        ``last_item`` (the last item the job's events reported) tells where the history
        stands: the items reached after it, while the agent was away, are reported next.
        """
        try:
            flight, _ = await asyncio.to_thread(
                plan_flight, job, files, self.settings.default_takeoff_alt_m
            )
        except DriverError as exc:
            log.warning("job %s cannot be resumed: %s", job.key, exc)
            return False
        try:
            await self._until(
                "the vehicle's mission state",
                lambda s: s.connected and s.mission_current >= 0,
                self.settings.connect_timeout_s,
            )
        except DriverError as exc:
            log.warning("job %s cannot be resumed: %s", job.key, exc)
            return False
        s = self.state
        if s.mission_total not in (0, flight.uploaded):
            log.warning(
                "job %s: the vehicle holds a mission of %d items, the job's has %d",
                job.key,
                s.mission_total,
                flight.uploaded,
            )
            return False
        if last_item is not None and not flight.walk.skip_past(last_item):
            log.warning("job %s: item %d is not one of its mission's", job.key, last_item)
        if self._finished(flight, s):
            # Flown to its end while the agent was away: the items not reported yet
            # first (``_fly_mission`` sees the end at once), then the finish.
            flight.phase, flight.mission_started = "mission", True
        elif s.mission_current <= 0 and s.mode is not Mode.MISSION:
            # Killed between takeoff and mission start: nothing to follow.
            log.warning("job %s: the mission had not started (mode %s)", job.key, s.mode_name)
            return False
        else:
            # Flying the mission, or off it since: a failsafe while the agent was away is
            # followed like one, to the landing, or found landed already (the agent may
            # take longer to come back than the vehicle to come down); either way the
            # job fails for the failsafe's reason, not for the restart. The items
            # reached meanwhile are reported by ``_fly_mission``'s first look.
            flight.phase, flight.mission_started = "mission", True
        self._flight, self._taken_over = flight, None
        log.info(
            "job %s resumed: the vehicle flies item %d of %d (last reported: %s), mode %s",
            job.key,
            s.mission_current,
            flight.uploaded,
            last_item,
            s.mode_name,
        )
        return True

    # Stops and actions --------------------------------------------------------------

    async def _command_mode(self, name: str) -> None:
        """Command ``hold``/``rtl``/``land`` and wait until the vehicle shows the mode
        (or is down): an acknowledged command is not yet a changed mode."""
        command, mode = {
            "hold": (self.vehicle.hold, Mode.HOLD),
            "rtl": (self.vehicle.return_to_launch, Mode.RETURN_TO_LAUNCH),
            "land": (self.vehicle.land, Mode.LAND),
        }[name]
        await command()
        deadline = self._clock() + self.settings.command_timeout_s
        while self.state.mode is not mode and not self.state.down_and_safe:
            if self._clock() > deadline:
                raise VehicleCommandError(name, Outcome.FAILED, f"mode still {self.state.mode}")
            await self.vehicle.changed(0.25)

    async def stop(self, action: str | None) -> None:
        self._taken_over, self._flight = "stop", None
        if self.state.down_and_safe:
            return
        name = action or "rtl"
        if name not in ("rtl", "hold", "land"):
            raise DriverError(RpcErrorCode.UNSUPPORTED, f"no stop action {name!r}")
        try:
            await self._command_mode(name)
        except VehicleCommandError as exc:
            raise rpc_error(exc) from None

    async def emergency_stop(self) -> None:
        self._taken_over, self._flight = "stop", None
        if self.state.down_and_safe:
            return
        action = self.settings.emergency_stop_action
        try:
            if action == "kill":
                await self.vehicle.kill()
            else:
                await self._command_mode(action)
        except VehicleCommandError as exc:
            raise rpc_error(exc) from None

    async def action(self, name: str, params: Mapping[str, Any]) -> Any:
        if name not in self.actions:
            raise DriverError(RpcErrorCode.UNSUPPORTED, f"the drone has no action {name!r}")
        v = self.vehicle
        if self._flight is not None:
            self._taken_over = f"action {name}"
        try:
            if name == "arm":
                await v.arm()
            elif name == "disarm":
                await v.disarm()
            elif name == "takeoff":
                height_m = _param(params, "altitude_m", 1.0, 1000.0)
                if height_m is not None:
                    await v.set_takeoff_altitude(height_m)
                if not self.state.armed:
                    await v.arm()
                await v.takeoff()
            elif name in ("land", "rtl", "hold"):
                await self._command_mode(name)
            elif name == "goto":
                lat = _required(params, "lat", -90.0, 90.0)
                lng = _required(params, "lng", -180.0, 180.0)
                alt = _param(params, "alt", -500.0, 10000.0)
                await v.goto(lat, lng, self.state.alt_amsl_m if alt is None else alt)
        except VehicleCommandError as exc:
            raise rpc_error(exc) from None
        return {"action": name, "mode": self.state.mode_name, "armed": self.state.armed}

    # Telemetry ----------------------------------------------------------------------

    def samples(self) -> list[TelemetrySample]:
        flight = self._flight
        return drone_samples(self.state, None if flight is None else (flight.key, flight.uploaded))

    async def telemetry(self) -> AsyncIterator[TelemetrySample]:
        while True:
            for sample in self.samples():
                yield sample
            await asyncio.sleep(self.settings.telemetry_period_s)


def _after(flight: Flight) -> str:
    """Where a mission stopped, for people: ``after item 4 (5 of 12 items reached)``."""
    last = flight.walk.last
    where = "before reaching an item" if last is None else f"after item {last}"
    return f"{where} ({flight.current} of {flight.total} items reached)"


def _required(params: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = _param(params, key, low, high)
    if value is None:
        raise DriverError(RpcErrorCode.INVALID_PARAMS, f"params.{key} is required")
    return value


def _param(params: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    """A number of an action's params within ``low..high``; None when absent."""
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise DriverError(RpcErrorCode.INVALID_PARAMS, f"params.{key} must be a number")
    if not low <= value <= high:
        raise DriverError(RpcErrorCode.INVALID_PARAMS, f"params.{key} is outside {low:g}..{high:g}")
    return float(value)
