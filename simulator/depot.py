"""Simulated docks: the PLC of a drone dock as pure state plus ``step(dt)``, and a Modbus
TCP server per dock implementing ``shared.dock_registers``.

The safety rules live here, in the dock's PLC, not in the agent:

- the cover never closes over an empty pad while a flight is under way. The dock knows a
  flight is under way from the ``flight_under_way`` holding register (the agent sets it
  before take-off and clears it after landing) and that the drone is in from its pad
  sensor (``drone_present``); a close is refused (reason ``flight_under_way``) and rain
  does not close it either;
- the cover is reported ``open`` only at its open limit: stopped between the limits it is
  ``half_open``, a jammed drive is ``fault``;
- rain while the cover is not closed with the drone inside closes it (a move of the dock's
  own: commands answer busy until it is done);
- one command at a time: a write while one runs is answered Modbus "device busy";
  emergency stop is carried out at once whatever runs.

Mechanics run on the simulation clock (the fleet's speed-up applies): the cover travels
in ``cover_travel_s``, the clamp in ``clamp_s``; the charger follows a constant-current,
constant-voltage curve on the drone's battery (``charge_rate``).

A docked vehicle: the dock's pad is a vehicle's home; the vehicle counts as in the dock
when it is on the ground, disarmed, within ``PAD_TOLERANCE_M`` of the pad. The dock then
charges that vehicle's battery. A dock with no vehicle assigned has an empty pad unless
a test puts a stand-in drone on it (``fault drone-present``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from shared import dock_registers as reg
from shared.dock_registers import (
    Charger,
    Clamp,
    Command,
    CommandStatus,
    Cover,
    Mode,
    PowerSource,
    Rain,
    Reason,
)
from simulator import geo

PAD_TOLERANCE_M = 1.5
"""A vehicle landed at most this far from the pad (horizontally) stands in the dock."""
FAULTS = (
    "cover-jam",
    "half-open",
    "power-loss",
    "rain",
    "charger-fault",
    "emergency-stop",
    "maintenance",
    "wind",
    "drone-present",
    "register",
    "status",
)
"""Dock faults (``gosd sim fault --dock N FAULT VALUE``): on/off switches, ``rain`` a
level 0..3, ``wind`` a mean speed in m/s, ``register`` ``ADDRESS=RAW`` forces an input
register to a raw value (``ADDRESS=off`` stops it: a broken PLC, for tests), ``status``."""


@dataclass(frozen=True)
class Mechanics:
    """How long the dock's moves take, simulated seconds."""

    cover_travel_s: float = 12.0
    """Closed to open (or back) at full travel."""
    clamp_s: float = 3.0
    drone_power_s: float = 2.0
    charge_switch_s: float = 1.0
    reset_s: float = 1.0
    jam_after_s: float = 0.5
    """A jammed cover drive stalls this long after it starts."""


@dataclass(frozen=True)
class Battery:
    """The charging curve: constant current up to ``cv_from_pct``, then tapering."""

    capacity_ah: float = 5.0
    cc_current_a: float = 10.0
    """Constant-current phase: 2 C on 5 Ah."""
    cv_from_pct: float = 80.0
    min_current_a: float = 0.5
    """Current at 100 % (the taper's end)."""
    cells: int = 4
    cell_empty_v: float = 3.5
    cell_full_v: float = 4.2

    def voltage_v(self, pct: float) -> float:
        return self.cells * (self.cell_empty_v + (self.cell_full_v - self.cell_empty_v) * pct / 100)

    def current_a(self, pct: float) -> float:
        if pct < self.cv_from_pct:
            return self.cc_current_a
        frac = (100.0 - pct) / (100.0 - self.cv_from_pct)
        return self.min_current_a + (self.cc_current_a - self.min_current_a) * max(0.0, frac)


class DockedVehicle(Protocol):
    """What the dock sees of a simulated vehicle (``simulator.vehicle.Vehicle``)."""

    lat_deg: float
    lon_deg: float
    armed: bool
    battery_pct: float

    @property
    def in_air(self) -> bool: ...


@dataclass
class StandIn:
    """A drone put on the pad by a test or the shell (no vehicle model behind it)."""

    lat_deg: float
    lon_deg: float
    battery_pct: float = 50.0
    armed: bool = False
    in_air: bool = False


@dataclass
class _Run:
    """A move in progress: a command, or the dock's own (rain closing the cover)."""

    command: Command
    elapsed_s: float = 0.0
    duration_s: float = 0.0
    own: bool = False
    """Started by the dock itself: the command registers keep the agent's last command."""
    target: float = 0.0
    """Cover moves: the position aimed at (0 closed, 1 open)."""


@dataclass
class DockModel:
    """One dock's PLC: registers in, registers out, physics in ``step``."""

    pad_lat_deg: float
    pad_lon_deg: float
    vehicle: DockedVehicle | None = None
    mechanics: Mechanics = field(default_factory=Mechanics)
    battery: Battery = field(default_factory=Battery)
    uptime_s: float = 0.0
    """Simulated seconds since the PLC started."""
    mode: Mode = Mode.IDLE
    cover_pos: float = 0.0
    """0 closed .. 1 open."""
    cover: Cover = Cover.CLOSED
    clamp: Clamp = Clamp.LOCKED
    charger: Charger = Charger.IDLE
    drone_power: bool = False
    error: Reason = Reason.NONE
    flight_under_way: bool = False
    charge_target_pct: int = 100
    command: Command = Command.NONE
    command_seq: int = 0
    seq_ack: int = 0
    status: CommandStatus = CommandStatus.NONE
    step_no: int = 0
    percent: int = 0
    reason: Reason = Reason.NONE
    run: _Run | None = None
    # Faults and the weather script.
    jam: bool = False
    half_open: bool = False
    mains_lost: bool = False
    charger_fault: bool = False
    estop_pressed: bool = False
    maintenance: bool = False
    rain: Rain = Rain.NONE
    wind_mean_m_s: float = 3.0
    gust_m_s: float = 2.0
    """Gusts add up to this much to the mean, on a slow and a fast period."""
    stand_in: StandIn | None = None
    forced: dict[int, int] = field(default_factory=dict)
    """Input register address -> raw value reported whatever the state (fault injection)."""
    charge_current_a: float = 0.0
    events: list[str] = field(default_factory=list)
    """What the dock did by itself (rain closing, faults), newest last (tests read it)."""

    # --- what the sensors see -------------------------------------------------------

    @property
    def drone(self) -> DockedVehicle | StandIn | None:
        """The drone standing on the pad, if any."""
        for candidate in (self.stand_in, self.vehicle):
            if candidate is None or candidate.in_air or candidate.armed:
                continue
            north, east = geo.offset_m(
                self.pad_lat_deg, self.pad_lon_deg, candidate.lat_deg, candidate.lon_deg
            )
            if math.hypot(north, east) <= PAD_TOLERANCE_M:
                return candidate
        return None

    @property
    def wind_m_s(self) -> float:
        t = self.uptime_s
        gust = 0.6 * math.sin(t / 17.0) + 0.4 * math.sin(t / 3.1)
        return max(0.0, self.wind_mean_m_s + self.gust_m_s * gust)

    @property
    def wind_direction_deg(self) -> int:
        return int(240 + 25 * math.sin(self.uptime_s / 90.0)) % 360

    @property
    def temperature_c(self) -> float:
        return 15.0 + 4.0 * math.sin(self.uptime_s / 900.0) - (2.0 if self.rain else 0.0)

    @property
    def humidity_pct(self) -> float:
        return min(100.0, 55.0 + 10.0 * math.sin(self.uptime_s / 700.0) + 12.0 * self.rain)

    # --- registers ------------------------------------------------------------------

    def holding_registers(self) -> list[int]:
        return [
            int(self.command),
            self.command_seq,
            int(self.flight_under_way),
            self.charge_target_pct,
        ]

    def input_registers(self) -> list[int]:
        drone = self.drone
        voltage = self.battery.voltage_v(drone.battery_pct) if self.charger_on and drone else 0.0
        values = {
            "protocol_version": reg.PROTOCOL_VERSION,
            "heartbeat": int(self.uptime_s) % 65536,
            "mode": self.mode,
            "cover": self.cover,
            "cover_position": round(self.cover_pos * 1000),
            "clamp": self.clamp,
            "charger": self.charger,
            "charge_voltage": round(voltage * 100) if drone else 0,
            "charge_current": round(self.charge_current_a * 100),
            "drone_present": int(drone is not None),
            "drone_power": int(self.drone_power and drone is not None),
            "drone_battery": round(drone.battery_pct * 10) if drone else 0,
            "power_source": PowerSource.BATTERY if self.mains_lost else PowerSource.MAINS,
            "wind_speed": min(600, round(self.wind_m_s * 10)),
            "wind_direction": self.wind_direction_deg,
            "rain": self.rain,
            "temperature": round(self.temperature_c * 10) & 0xFFFF,
            "humidity": round(self.humidity_pct * 10),
            "error_code": self.error,
            "command_seq_ack": self.seq_ack,
            "command_status": self.status,
            "command_step": self.step_no,
            "command_percent": self.percent,
            "command_reason": self.reason,
        }
        out = [int(values[r.name]) for r in reg.INPUT]
        for address, raw in self.forced.items():
            if 0 <= address < len(out):
                out[address] = raw & 0xFFFF
        return out

    @property
    def charger_on(self) -> bool:
        return self.charger in (Charger.CHARGING, Charger.FULL)

    def write(self, address: int, values: list[int]) -> ExcCodes | None:
        """A holding-register write from the Modbus side; an exception code refuses it."""
        new = self.holding_registers()
        if address < 0 or address + len(values) > len(new):
            return ExcCodes.ILLEGAL_ADDRESS
        new[address : address + len(values)] = values
        command, seq, under_way, target = new
        if command not in Command._value2member_map_ or under_way not in (0, 1):
            return ExcCodes.ILLEGAL_VALUE
        if not 50 <= target <= 100:
            return ExcCodes.ILLEGAL_VALUE
        acts = address <= 1 < address + len(values) and seq != self.command_seq
        if acts and self._busy() and command != Command.EMERGENCY_STOP:
            return ExcCodes.DEVICE_BUSY
        self.command, self.command_seq = Command(command), seq
        self.flight_under_way, self.charge_target_pct = bool(under_way), target
        if acts:
            self.start(Command(command), seq)
        return None

    # --- commands ---------------------------------------------------------------------

    def _busy(self) -> bool:
        return self.run is not None

    def _answer(self, seq: int, status: CommandStatus, reason: Reason = Reason.NONE) -> None:
        self.seq_ack, self.status, self.reason = seq, status, reason
        self.step_no = 1 if status in (CommandStatus.ACCEPTED, CommandStatus.IN_PROGRESS) else 0
        self.percent = 100 if status is CommandStatus.OK else 0

    def start(self, command: Command, seq: int) -> None:
        """Take command ``command`` numbered ``seq`` (the busy check is done)."""
        if command is Command.EMERGENCY_STOP:
            self.emergency_stop()
            self._answer(seq, CommandStatus.OK)
            return
        refusal = self._refusal(command)
        if refusal is not None:
            self._answer(seq, CommandStatus.REJECTED, refusal)
            return
        m = self.mechanics
        durations = {
            Command.CLAMP_LOCK: m.clamp_s,
            Command.CLAMP_RELEASE: m.clamp_s,
            Command.CHARGE_ON: m.charge_switch_s,
            Command.CHARGE_OFF: m.charge_switch_s,
            Command.DRONE_POWER_ON: m.drone_power_s,
            Command.DRONE_POWER_OFF: m.drone_power_s,
            Command.RESET: m.reset_s,
        }
        done_already = (
            (command is Command.COVER_OPEN and self.cover is Cover.OPEN)
            or (command is Command.COVER_CLOSE and self.cover is Cover.CLOSED)
            or (command is Command.CLAMP_LOCK and self.clamp is Clamp.LOCKED)
            or (command is Command.CLAMP_RELEASE and self.clamp is Clamp.RELEASED)
        )
        if done_already:
            self._answer(seq, CommandStatus.OK)
            return
        self._answer(seq, CommandStatus.IN_PROGRESS)
        self.mode = Mode.WORKING
        if command in (Command.COVER_OPEN, Command.COVER_CLOSE):
            self._start_cover(command, own=False)
        else:
            self.run = _Run(command, duration_s=durations[command])
            if command in (Command.CLAMP_LOCK, Command.CLAMP_RELEASE):
                self.clamp = Clamp.MOVING

    def _refusal(self, command: Command) -> Reason | None:
        drone = self.drone
        if self.mode is Mode.EMERGENCY_STOP:
            if command is Command.RESET and not self.estop_pressed:
                return None
            return Reason.EMERGENCY_STOP
        if self.maintenance:
            return Reason.MAINTENANCE
        if self.mode is Mode.ERROR and command is not Command.RESET:
            return Reason.IN_ERROR
        if command is Command.COVER_OPEN and self.rain and drone is not None:
            return Reason.RAIN
        if command is Command.COVER_CLOSE and self.flight_under_way and drone is None:
            return Reason.FLIGHT_UNDER_WAY
        if command in (Command.CHARGE_ON, Command.DRONE_POWER_ON) and drone is None:
            return Reason.NO_DRONE
        if command is Command.CHARGE_ON:
            if self.clamp is not Clamp.LOCKED:
                return Reason.CLAMP_NOT_LOCKED
            if self.mains_lost:
                return Reason.MAINS_LOST
            if self.charger_fault:
                return Reason.CHARGER_FAULT
        return None

    def _start_cover(self, command: Command, own: bool) -> None:
        target = 1.0 if command is Command.COVER_OPEN else 0.0
        self.cover = Cover.OPENING if target else Cover.CLOSING
        travel = abs(target - self.cover_pos) * self.mechanics.cover_travel_s
        self.run = _Run(command, duration_s=travel, own=own, target=target)
        self.mode = Mode.WORKING

    def emergency_stop(self) -> None:
        """Stop every motor and the charger now."""
        run, self.run = self.run, None
        if run is not None and run.command in (Command.COVER_OPEN, Command.COVER_CLOSE):
            self._settle_cover()
        if run is not None and run.command in (Command.CLAMP_LOCK, Command.CLAMP_RELEASE):
            self.clamp = Clamp.FAULT  # stopped between its ends: position unknown
        self._charger_off(Charger.IDLE)
        self.mode, self.error = Mode.EMERGENCY_STOP, Reason.EMERGENCY_STOP
        self.events.append("emergency stop")

    def _settle_cover(self) -> None:
        """The cover stopped: where it is, by its limit switches."""
        if self.cover_pos >= 1.0:
            self.cover = Cover.OPEN
        elif self.cover_pos <= 0.0:
            self.cover = Cover.CLOSED
        else:
            self.cover = Cover.HALF_OPEN

    def _charger_off(self, state: Charger) -> None:
        self.charger, self.charge_current_a = state, 0.0

    def _finish(self, status: CommandStatus, reason: Reason = Reason.NONE) -> None:
        run, self.run = self.run, None
        if self.mode is Mode.WORKING:
            self.mode = Mode.IDLE
        if run is None or run.own:
            return
        self.status, self.reason = status, reason
        self.percent = 100 if status is CommandStatus.OK else self.percent

    def _fail(self, error: Reason) -> None:
        """A move failed: the dock goes to error with ``error`` and stops the move."""
        self._finish(CommandStatus.FAILED, error)
        self.mode, self.error = Mode.ERROR, error
        self.events.append(f"error {error.name.lower()}")

    # --- physics ----------------------------------------------------------------------

    def step(self, dt_s: float) -> None:
        self.uptime_s += dt_s
        if self.estop_pressed and self.mode is not Mode.EMERGENCY_STOP:
            self.emergency_stop()
        if self.charger_fault and self.charger is not Charger.FAULT:
            self._charger_off(Charger.FAULT)
            if self.mode is not Mode.EMERGENCY_STOP:
                self.mode, self.error = Mode.ERROR, Reason.CHARGER_FAULT
        self._rain_rule()
        if self.run is not None:
            self._advance(dt_s)
        self._charge(dt_s)

    def _rain_rule(self) -> None:
        if not self.rain or self.drone is None or self.cover is Cover.CLOSED:
            return
        if self.mode in (Mode.ERROR, Mode.EMERGENCY_STOP) or self.cover is Cover.FAULT:
            return
        run = self.run
        if run is not None and run.command is Command.COVER_CLOSE:
            return
        if run is not None and run.command is not Command.COVER_OPEN:
            return  # the clamp or charger finishes first; the cover closes next step
        if run is not None:  # an opening cover turns round
            self._finish(CommandStatus.FAILED, Reason.RAIN)
        self.events.append("rain: closing the cover over the drone")
        self._start_cover(Command.COVER_CLOSE, own=True)

    def _advance(self, dt_s: float) -> None:
        run = self.run
        assert run is not None
        run.elapsed_s += dt_s
        if run.command in (Command.COVER_OPEN, Command.COVER_CLOSE):
            self._move_cover(run, dt_s)
            return
        frac = 1.0 if run.duration_s <= 0 else min(1.0, run.elapsed_s / run.duration_s)
        if not run.own:
            self.percent = round(frac * 100)
        if frac < 1.0:
            return
        if run.command is Command.CLAMP_LOCK:
            self.clamp = Clamp.LOCKED
        elif run.command is Command.CLAMP_RELEASE:
            self.clamp = Clamp.RELEASED
        elif run.command is Command.CHARGE_ON:
            refusal = self._refusal(Command.CHARGE_ON)
            if refusal is not None:
                self._finish(CommandStatus.FAILED, refusal)
                return
            self.charger = Charger.CHARGING
        elif run.command is Command.CHARGE_OFF:
            self._charger_off(Charger.IDLE)
        elif run.command is Command.DRONE_POWER_ON:
            self.drone_power = True
        elif run.command is Command.DRONE_POWER_OFF:
            self.drone_power = False
        elif run.command is Command.RESET:
            self._reset()
        self._finish(CommandStatus.OK)

    def _reset(self) -> None:
        self.error, self.mode = Reason.NONE, Mode.IDLE
        if not self.jam:
            self._settle_cover()
        if self.clamp is Clamp.FAULT:
            self.clamp = Clamp.RELEASED
        if self.charger is Charger.FAULT and not self.charger_fault:
            self.charger = Charger.IDLE
        if self.jam or self.charger_fault:
            self.mode = Mode.ERROR
            self.error = Reason.COVER_JAM if self.jam else Reason.CHARGER_FAULT

    def _move_cover(self, run: _Run, dt_s: float) -> None:
        m = self.mechanics
        if self.jam and run.elapsed_s >= m.jam_after_s:
            self.cover = Cover.FAULT
            self._fail(Reason.COVER_JAM)
            return
        direction = 1.0 if run.target > self.cover_pos else -1.0
        self.cover_pos += direction * dt_s / m.cover_travel_s
        self.cover_pos = min(1.0, max(0.0, self.cover_pos))
        if self.half_open and 0.45 <= self.cover_pos <= 0.55:
            self.cover = Cover.HALF_OPEN
            self._fail(Reason.COVER_HALF_OPEN)
            return
        if not run.own:
            travelled = 1.0 - abs(run.target - self.cover_pos)
            self.percent = round(100 * travelled)
        if (direction > 0 and self.cover_pos >= run.target) or (
            direction < 0 and self.cover_pos <= run.target
        ):
            self.cover_pos = run.target
            self._settle_cover()
            self._finish(CommandStatus.OK)

    def _charge(self, dt_s: float) -> None:
        if not self.charger_on:
            return
        drone = self.drone
        if drone is None or self.mains_lost or self.clamp is not Clamp.LOCKED:
            self._charger_off(Charger.IDLE)
            return
        if drone.battery_pct >= self.charge_target_pct:
            self.charger, self.charge_current_a = Charger.FULL, 0.0
            return
        self.charger = Charger.CHARGING
        self.charge_current_a = self.battery.current_a(drone.battery_pct)
        gained = self.charge_current_a * dt_s / 3600.0 / self.battery.capacity_ah * 100.0
        drone.battery_pct = min(100.0, drone.battery_pct + gained)

    # --- fault injection ------------------------------------------------------------

    def apply_fault(self, name: str, value: object) -> None:
        """Apply one fault (``FAULTS``); ``ValueError`` says why a value does not fit."""
        if name == "status":
            return
        if name == "rain":
            level = _number(value)
            if level not in (0, 1, 2, 3):
                raise ValueError("rain is a level 0..3")
            self.rain = Rain(int(level))
        elif name == "wind":
            speed = _number(value)
            if not 0 <= speed <= 50:
                raise ValueError("wind is 0..50 m/s")
            self.wind_mean_m_s = speed
        elif name == "register":
            self._force(value)
        elif name == "drone-present":
            on = _on_off(value)
            self.stand_in = StandIn(self.pad_lat_deg, self.pad_lon_deg) if on else None
        else:
            on = _on_off(value)
            attribute = {
                "cover-jam": "jam",
                "half-open": "half_open",
                "power-loss": "mains_lost",
                "charger-fault": "charger_fault",
                "emergency-stop": "estop_pressed",
                "maintenance": "maintenance",
            }.get(name)
            if attribute is None:
                raise ValueError(f"dock fault must be one of {', '.join(FAULTS)}")
            setattr(self, attribute, on)
        self.events.append(f"fault {name} {value}")

    def _force(self, value: object) -> None:
        if not isinstance(value, str) or "=" not in value:
            raise ValueError("register takes ADDRESS=RAW (0..65535) or ADDRESS=off")
        address_text, raw_text = value.split("=", 1)
        try:
            address = int(address_text)
            raw = None if raw_text == "off" else int(raw_text)
        except ValueError:
            raise ValueError("register takes ADDRESS=RAW (0..65535) or ADDRESS=off") from None
        if not 0 <= address < reg.INPUT_COUNT:
            raise ValueError(f"input register addresses are 0..{reg.INPUT_COUNT - 1}")
        if raw is None:
            self.forced.pop(address, None)
        elif 0 <= raw <= 0xFFFF:
            self.forced[address] = raw
        else:
            raise ValueError("a register holds 0..65535")

    def snapshot(self) -> dict[str, object]:
        """The state as the shell's ``status`` shows it (register names and values)."""
        values = self.input_registers()
        state: dict[str, object] = {r.name: values[r.address] for r in reg.INPUT}
        state.update(
            {r.name: v for r, v in zip(reg.HOLDING, self.holding_registers(), strict=True)}
        )
        state["faults"] = {
            "cover-jam": self.jam,
            "half-open": self.half_open,
            "power-loss": self.mains_lost,
            "charger-fault": self.charger_fault,
            "emergency-stop": self.estop_pressed,
            "maintenance": self.maintenance,
            "rain": int(self.rain),
            "wind": self.wind_mean_m_s,
            "drone-present": self.stand_in is not None,
            "register": {str(a): v for a, v in self.forced.items()},
        }
        return state


def _on_off(value: object) -> bool:
    if value in ("on", True):
        return True
    if value in ("off", False):
        return False
    raise ValueError("value must be on or off")


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("value must be a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError("value must be a number") from None
    if not math.isfinite(number):
        raise ValueError("value must be a finite number")
    return number


class DockServer:
    """A Modbus TCP server on ``host:port`` in front of one ``DockModel``.

    Reads are served from the model at the moment of the request; writes go through
    ``DockModel.write`` (which may answer a Modbus exception). Port 0 picks a free port
    (``port`` tells which after ``start``).
    """

    def __init__(
        self, model: DockModel, port: int = 0, host: str = "127.0.0.1", unit_id: int = 1
    ) -> None:
        self.model = model
        self.host = host
        self.port = port
        self.unit_id = unit_id
        self._server: ModbusTcpServer | None = None

    def _device(self) -> SimDevice:
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
        holding = [SimData(0, count=reg.HOLDING_COUNT, datatype=DataType.REGISTERS)]
        inputs = [SimData(0, count=reg.INPUT_COUNT, datatype=DataType.REGISTERS)]
        return SimDevice(
            self.unit_id,
            simdata=(list(bits), list(bits), holding, inputs),
            action=self._access,
        )

    async def _access(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Every request passes here first: refresh the registers from the model, or
        hand a write to the model."""
        if function_code in (6, 16, 23) and set_values is not None:
            result = self.model.write(address, [int(v) for v in set_values])
            if result is not None:
                return result
            registers[: reg.HOLDING_COUNT] = self.model.holding_registers()
            return None
        values = (
            self.model.input_registers() if function_code == 4 else self.model.holding_registers()
        )
        registers[: len(values)] = values
        return None

    async def start(self) -> None:
        self._server = ModbusTcpServer(self._device(), address=(self.host, self.port))
        await self._server.serve_forever(background=True)
        listener = self._server.transport  # an asyncio.Server for a TCP listener
        sockets = getattr(listener, "sockets", None)
        if self.port == 0 and sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    async def __aenter__(self) -> DockServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
