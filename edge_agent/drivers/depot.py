"""The ``depot`` driver: a drone dock's PLC over Modbus (TCP, or RTU on a serial line).

The only module importing pymodbus. It speaks the register map of
``shared.dock_registers``; every reading is checked (``depot_state``) before use.

Settings (``[driver.depot]``, ``DepotSettings``):

- ``transport`` ``tcp`` (default) or ``rtu``; ``host``/``port`` for TCP; ``serial_port``,
  ``baudrate``, ``parity``, ``stopbits`` for RTU (needs pyserial installed);
- ``unit_id`` (default 1): the dock's Modbus unit;
- ``poll_period_s`` (default 0.05): how often the state is read: a change is published
  within one period plus the publish (the issue asks 200 ms);
- ``status_period_s`` (default 1.0): ``msg/depot_status`` also goes out this often;
- ``request_timeout_s`` (default 1.0): one Modbus request;
- ``heartbeat_timeout_s`` (default 5.0): a heartbeat not moving this long is a dead PLC;
- ``deadlines_s``: per action, seconds to reach a terminal state (defaults ``DEADLINES_S``);
- ``max_charge_voltage_v`` / ``max_charge_current_a``: what the charger can produce;
  more is a bad reading.

Actions (RPC ``action``; job steps in ``extra.dock_actions``): ``cover_open``,
``cover_close``, ``clamp_lock``, ``clamp_release``, ``charge_on``, ``charge_off``,
``drone_power_on``, ``drone_power_off``, ``reset``, ``emergency_stop``, and
``flight_start`` / ``flight_end`` (set and clear the dock's ``flight_under_way``). Each
is written with a fresh sequence number and followed to the dock's terminal answer:
``ok`` returns ``{"action", "status": "ok", "state"}``; ``failed``/``rejected`` raise
``COMMAND_DENIED`` with the dock's reason; a write while one runs, here or on the dock,
``BUSY``; no outcome in the deadline ``VEHICLE_TIMEOUT``; a dock that cannot be trusted
``DOCK_ERROR``. ``emergency_stop`` skips every check and is written at once.

A job runs ``extra.dock_actions`` (comma-separated names, at most ``MAX_STEPS``) in
order, one progress event per step done (``stage`` the action); a failing step fails the
job ``dock_error`` naming the step, the dock's answer and its state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from edge_agent.drivers.base import (
    DriverConfigError,
    DriverError,
    ProgressReporter,
    TelemetrySample,
)
from edge_agent.drivers.depot_state import DockFault, DockState, check_limits, decode, to_status
from shared import dock_registers as reg
from shared.dock_registers import Command, CommandStatus, Mode
from shared.errors import JobFailure, RpcErrorCode
from shared.messages import DepotStatus, DockCommand, JobSpec, Progress

log = logging.getLogger(__name__)

COMMANDS: dict[str, Command] = {
    "cover_open": Command.COVER_OPEN,
    "cover_close": Command.COVER_CLOSE,
    "clamp_lock": Command.CLAMP_LOCK,
    "clamp_release": Command.CLAMP_RELEASE,
    "charge_on": Command.CHARGE_ON,
    "charge_off": Command.CHARGE_OFF,
    "drone_power_on": Command.DRONE_POWER_ON,
    "drone_power_off": Command.DRONE_POWER_OFF,
    "reset": Command.RESET,
    "emergency_stop": Command.EMERGENCY_STOP,
}
FLIGHT_MARKS = {"flight_start": 1, "flight_end": 0}
"""Actions writing the ``flight_under_way`` holding register."""
ACTIONS = frozenset(COMMANDS) | frozenset(FLIGHT_MARKS)

DEADLINES_S: dict[str, float] = {
    "cover_open": 60.0,
    "cover_close": 60.0,
    "clamp_lock": 20.0,
    "clamp_release": 20.0,
    "charge_on": 10.0,
    "charge_off": 10.0,
    "drone_power_on": 15.0,
    "drone_power_off": 15.0,
    "reset": 15.0,
    "emergency_stop": 3.0,
    "flight_start": 3.0,
    "flight_end": 3.0,
}
"""Seconds (wall) an action may take to reach a terminal state, unless configured."""

MAX_STEPS = 20
"""Most dock actions in one job."""

_MODBUS_BUSY = 6
_MODBUS_ILLEGAL_VALUE = 3

Positive = Annotated[float, msgspec.Meta(gt=0, le=3600)]


class DepotSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    transport: Literal["tcp", "rtu"] = "tcp"
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 502
    serial_port: str = "/dev/ttyUSB0"
    baudrate: Annotated[int, msgspec.Meta(ge=300, le=1_000_000)] = 19200
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    unit_id: Annotated[int, msgspec.Meta(ge=0, le=247)] = 1
    poll_period_s: Annotated[float, msgspec.Meta(ge=0.01, le=1.0)] = 0.05
    status_period_s: Annotated[float, msgspec.Meta(ge=0.1, le=60.0)] = 1.0
    request_timeout_s: Annotated[float, msgspec.Meta(ge=0.05, le=30.0)] = 1.0
    heartbeat_timeout_s: Annotated[float, msgspec.Meta(ge=1.0, le=600.0)] = 5.0
    deadlines_s: dict[str, Positive] = msgspec.field(default_factory=dict)
    max_charge_voltage_v: Annotated[float, msgspec.Meta(gt=0, le=60.0)] = 30.0
    max_charge_current_a: Annotated[float, msgspec.Meta(gt=0, le=30.0)] = 20.0

    def deadline_s(self, action: str) -> float:
        return self.deadlines_s.get(action, DEADLINES_S[action])

    @property
    def address(self) -> str:
        if self.transport == "tcp":
            return f"modbus-tcp://{self.host}:{self.port} unit {self.unit_id}"
        return f"modbus-rtu://{self.serial_port}@{self.baudrate}{self.parity} unit {self.unit_id}"


def parse_steps(extra: Mapping[str, str]) -> list[str]:
    """The job's ``extra.dock_actions`` as action names; ``DriverError(INVALID_JOB)``."""
    text = extra.get("dock_actions", "")
    steps = [part.strip() for part in text.split(",") if part.strip()]
    if not steps:
        raise DriverError(
            JobFailure.INVALID_JOB,
            "a depot job needs extra.dock_actions: comma-separated actions "
            f"({', '.join(sorted(ACTIONS))})",
        )
    if len(steps) > MAX_STEPS:
        raise DriverError(JobFailure.INVALID_JOB, f"extra.dock_actions: at most {MAX_STEPS}")
    unknown = [s for s in steps if s not in ACTIONS]
    if unknown:
        raise DriverError(
            JobFailure.INVALID_JOB,
            f"extra.dock_actions: {unknown[0][:40]!r} is not a dock action "
            f"({', '.join(sorted(ACTIONS))})",
        )
    return steps


class DepotDriver:
    """A dock behind Modbus: state polled and checked, commands followed to their end."""

    kind = "depot"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        try:
            self.settings = msgspec.convert(dict(settings), DepotSettings)
        except msgspec.ValidationError as exc:
            raise DriverConfigError(f"driver.depot: {exc}") from None
        unknown = set(self.settings.deadlines_s) - ACTIONS
        if unknown:
            raise DriverConfigError(
                f"driver.depot.deadlines_s: {sorted(unknown)[0]!r} is not a dock action"
            )
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._io = asyncio.Lock()
        """One Modbus request at a time on the line."""
        self.state: DockState | None = None
        """The last trusted reading (None before the first, or after a fault)."""
        self.fault: DockFault | None = DockFault("dock_unreachable", "not read yet")
        self._heartbeat: tuple[int, float] | None = None
        """(value, monotonic time it was first seen)."""
        self._seq = 0
        self._running: str | None = None
        """The action this driver follows now (one at a time)."""
        self.command: DockCommand | None = None
        self._changed = asyncio.Event()

    # --- the Driver protocol ------------------------------------------------------------

    @property
    def actions(self) -> frozenset[str]:
        return ACTIONS

    async def start(self) -> None:
        # pymodbus logs every frame at DEBUG: 40 requests a second would drown the agent's
        # own log (``gosd agent --log-level DEBUG``); its warnings still show.
        logging.getLogger("pymodbus").setLevel(logging.WARNING)
        s = self.settings
        timeout = s.request_timeout_s
        if s.transport == "tcp":
            self._client = AsyncModbusTcpClient(
                s.host, port=s.port, timeout=timeout, retries=0, reconnect_delay=0.2,
                reconnect_delay_max=2.0,
            )  # fmt: skip
        else:
            try:
                self._client = AsyncModbusSerialClient(
                    s.serial_port, baudrate=s.baudrate, parity=s.parity, stopbits=s.stopbits,
                    timeout=timeout, retries=0,
                )  # fmt: skip
            except RuntimeError as exc:  # pyserial missing
                raise DriverConfigError(f"driver.depot: {exc}") from None
        await self._client.connect()  # a dock not up yet is a dock error, not a crash
        await self.poll()

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def describe(self) -> dict[str, Any]:
        return {
            "type": "depot",
            "driver": self.kind,
            "dock": self.settings.address,
            "actions": sorted(self.actions),
        }

    async def prepare(self, job: JobSpec, files: Mapping[str, Path]) -> None:
        parse_steps(job.extra)

    async def run(self, job: JobSpec, report_progress: ProgressReporter) -> None:
        steps = parse_steps(job.extra)
        for number, name in enumerate(steps, 1):
            try:
                await self.act(name)
            except DriverError as exc:
                state = self.state.summary() if self.state else "state unknown"
                raise DriverError(
                    JobFailure.DOCK_ERROR,
                    f"step {number}/{len(steps)} {name}: {exc.message or exc}; dock: {state}",
                ) from None
            await report_progress(
                Progress(
                    current=number,
                    total=len(steps),
                    percent=round(100.0 * number / len(steps), 2),
                    stage=name,
                )
            )

    async def resume(self, job: JobSpec, files: Mapping[str, Path], last_item: int | None) -> bool:
        return False  # the dock's PLC finished or failed the move on its own meanwhile

    async def stop(self, action: str | None) -> None:
        """A cancelled job: the move in progress ends on the dock (its PLC keeps it safe);
        nothing new is started."""
        return None

    async def emergency_stop(self) -> None:
        await self.act("emergency_stop")

    async def action(self, name: str, params: Mapping[str, Any]) -> Any:
        if name not in ACTIONS:
            raise DriverError(RpcErrorCode.UNSUPPORTED, f"the depot driver has no {name[:40]!r}")
        return await self.act(name)

    async def telemetry(self) -> AsyncIterator[TelemetrySample]:
        """Poll every ``poll_period_s``; a sample when the state changed (urgent) and every
        ``status_period_s``."""
        last: DepotStatus | None = None
        last_at = -float("inf")
        period = self.settings.status_period_s
        while True:
            await self.poll()
            status = self.status()
            now = time.monotonic()
            changed = last is None or _essential(status) != _essential(last)
            if changed or now - last_at >= period:
                yield TelemetrySample("depot_status", status, urgent=changed)
                last, last_at = status, now
            await asyncio.sleep(self.settings.poll_period_s)

    # --- reading ------------------------------------------------------------------------

    def status(self) -> DepotStatus:
        return to_status(self.state, self.fault, self.command, self._running is not None)

    async def poll(self) -> DockState | None:
        """Read and check the dock once; ``state``/``fault`` say what came of it."""
        try:
            inputs, holding = await self._read()
            state = decode(inputs, holding)
            check_limits(
                state, self.settings.max_charge_voltage_v, self.settings.max_charge_current_a
            )
            self._check_heartbeat(state.heartbeat)
        except DockFault as exc:
            if self.fault is None or self.fault.code != exc.code:
                log.warning("dock %s: %s", self.settings.address, exc)
            self.state, self.fault = None, exc
            return None
        self.state, self.fault = state, None
        return state

    async def _read(self) -> tuple[list[int], list[int]]:
        client = self._client
        if client is None:
            raise DockFault("dock_unreachable", "the driver is not started")
        unit = self.settings.unit_id
        try:
            async with self._io:
                if not client.connected:
                    await client.connect()
                inputs = await client.read_input_registers(0, count=reg.INPUT_COUNT, device_id=unit)
                holding = await client.read_holding_registers(
                    0, count=reg.HOLDING_COUNT, device_id=unit
                )
        except (ModbusException, OSError, TimeoutError) as exc:
            raise DockFault(
                "dock_unreachable", f"no answer from {self.settings.address}: {exc}"
            ) from None
        for answer in (inputs, holding):
            if answer.isError():
                raise DockFault(
                    "dock_unreachable",
                    f"{self.settings.address} answered Modbus exception "
                    f"{getattr(answer, 'exception_code', '?')}",
                )
        return list(inputs.registers), list(holding.registers)

    def _check_heartbeat(self, value: int) -> None:
        now = time.monotonic()
        if self._heartbeat is None or self._heartbeat[0] != value:
            self._heartbeat = (value, now)
            return
        still_s = now - self._heartbeat[1]
        if still_s > self.settings.heartbeat_timeout_s:
            raise DockFault(
                "heartbeat_stale",
                f"the dock's heartbeat stayed at {value} for {still_s:.1f} s: its PLC is not "
                "running",
            )

    # --- commands -----------------------------------------------------------------------

    async def act(self, name: str) -> dict[str, Any]:
        """Run one action to its terminal state (see the module's docstring)."""
        if name == "emergency_stop":
            return await self._command(name)
        if self._running is not None:
            raise DriverError(RpcErrorCode.BUSY, f"the dock is running {self._running}")
        self._running = name
        try:
            if name in FLIGHT_MARKS:
                return await self._mark_flight(name)
            return await self._command(name)
        finally:
            self._running = None

    async def _trusted(self) -> DockState:
        state = await self.poll()
        if state is None:
            fault = self.fault
            raise DriverError(RpcErrorCode.DOCK_ERROR, f"the dock cannot be trusted: {fault}")
        return state

    async def _mark_flight(self, name: str) -> dict[str, Any]:
        await self._trusted()
        value = FLIGHT_MARKS[name]
        address = reg.HOLDING_BY_NAME["flight_under_way"].address
        await self._write(address, [value], name)
        state = await self._trusted()
        if state.flight_under_way != bool(value):
            raise DriverError(RpcErrorCode.DOCK_ERROR, f"{name}: the dock did not take it")
        return {"action": name, "status": "ok", "state": self._state_dict()}

    def _next_seq(self, current: int) -> int:
        seq = max(self._seq, current) % 0xFFFF + 1  # 1..65535, never the dock's current one
        self._seq = seq
        return seq

    async def _write(self, address: int, values: list[int], name: str) -> None:
        client = self._client
        if client is None:
            raise DriverError(RpcErrorCode.DOCK_ERROR, "the driver is not started")
        try:
            async with self._io:
                answer = await client.write_registers(
                    address, values, device_id=self.settings.unit_id
                )
        except (ModbusException, OSError, TimeoutError) as exc:
            raise DriverError(RpcErrorCode.DOCK_ERROR, f"{name}: the write failed: {exc}") from None
        if answer.isError():
            code = getattr(answer, "exception_code", 0)
            if code == _MODBUS_BUSY:
                raise DriverError(RpcErrorCode.BUSY, f"{name}: the dock is busy with another move")
            if code == _MODBUS_ILLEGAL_VALUE:
                raise DriverError(
                    RpcErrorCode.INVALID_PARAMS, f"{name}: the dock refused the value"
                )
            raise DriverError(RpcErrorCode.DOCK_ERROR, f"{name}: Modbus exception {code}")

    def _report(self, name: str, seq: int, status: str, state: DockState | None = None) -> None:
        command = DockCommand(name=name, seq=seq, status=status)
        if state is not None and state.seq_ack == seq:
            reason = state.command_reason
            command = DockCommand(
                name=name,
                seq=seq,
                status=status,
                step=state.command_step,
                percent=float(state.command_percent),
                reason="" if reason is reg.Reason.NONE else reason.name.lower(),
            )
        self.command = command

    async def _command(self, name: str) -> dict[str, Any]:
        command = COMMANDS[name]
        estop = command is Command.EMERGENCY_STOP
        if estop:  # no check first: whatever the dock reports, the stop is written now
            current = self.state.command_seq if self.state is not None else 0
        else:
            current = (await self._trusted()).command_seq
        seq = self._next_seq(current)
        self._report(name, seq, "sent")
        try:
            await self._write(0, [int(command), seq], name)
        except DriverError as exc:
            self._report(name, seq, "busy" if exc.code is RpcErrorCode.BUSY else "failed")
            raise
        deadline_s = self.settings.deadline_s(name)
        try:
            async with asyncio.timeout(deadline_s):
                while True:
                    state = await self.poll()
                    if state is not None:
                        outcome = self._outcome(name, seq, state)
                        if outcome is not None:
                            return outcome
                    await asyncio.sleep(self.settings.poll_period_s)
        except TimeoutError:
            self._report(name, seq, "timeout", self.state)
            where = self.state.summary() if self.state else f"not trusted: {self.fault}"
            raise DriverError(
                RpcErrorCode.VEHICLE_TIMEOUT,
                f"{name}: no outcome within {deadline_s:g} s (dock: {where})",
            ) from None

    def _outcome(self, name: str, seq: int, state: DockState) -> dict[str, Any] | None:
        """The result once the dock's answer to ``seq`` is terminal; None while it runs."""
        if state.seq_ack != seq:
            if state.seq_ack > seq or (seq - state.seq_ack) > 0x8000:  # a later command
                self._report(name, seq, "failed")
                cut = (
                    "an emergency stop" if state.mode is Mode.EMERGENCY_STOP else "a later command"
                )
                raise DriverError(RpcErrorCode.COMMAND_DENIED, f"{name}: cut short by {cut}")
            return None
        status = state.command_status
        if status in (CommandStatus.ACCEPTED, CommandStatus.IN_PROGRESS):
            self._report(name, seq, _word(status), state)
            return None
        self._report(name, seq, _word(status), state)
        if status is CommandStatus.OK:
            return {"action": name, "status": "ok", "state": self._state_dict()}
        reason = state.command_reason.name.lower()
        if status is CommandStatus.BUSY:
            raise DriverError(RpcErrorCode.BUSY, f"{name}: the dock is busy")
        if status is CommandStatus.NONE:
            raise DriverError(RpcErrorCode.DOCK_ERROR, f"{name}: the dock did not take it")
        raise DriverError(
            RpcErrorCode.COMMAND_DENIED, f"{name} {_word(status)} by the dock: {reason}"
        )

    def _state_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.to_builtins(self.status())
        return result


def _word(value: object) -> str:
    return str(getattr(value, "name", value)).lower()


def _essential(status: DepotStatus) -> DepotStatus:
    """What makes a change worth publishing at once: not the weather, the charge or the
    uptime, which move all the time and go out at the status period."""
    return msgspec.structs.replace(
        status,
        weather=None,
        uptime=None,
        charge_voltage=None,
        charge_current=None,
        power=None,
        drone_battery=None,
        cover_position=None,
        command=None
        if status.command is None
        else msgspec.structs.replace(status.command, percent=0.0, step=0),
    )


def create_driver(settings: Mapping[str, Any]) -> DepotDriver:
    return DepotDriver(settings)
