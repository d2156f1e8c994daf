"""The dock's Modbus register map: the one definition the simulated dock and the depot
driver share, and the table a dock maker implements (rendered into the README).

Data only: addresses, meanings, units and scales, access, allowed values. A dock is a
Modbus server (TCP, or RTU on a serial line) at one unit id. Two address spaces:

- **holding registers** (function codes 3 read, 6/16 write): what the agent asks for:
  a command with its sequence number, and setpoints;
- **input registers** (function code 4): what the dock reports: its state, weather, and
  the outcome of the last command.

A command is written as ``command`` and ``command_seq`` in one write (function 16 at
address 0, two registers): the dock acts when ``command_seq`` changes, echoes it in
``command_seq_ack`` and reports ``command_status`` (accepted, in progress with step and
percent, then ok / failed / rejected with ``command_reason``). The outcome is read back,
never assumed. One command runs at a time: writing another one while it runs is answered
with Modbus exception 6 (device busy), and the status registers keep reporting the running
command; ``emergency_stop`` is the exception: the dock carries it out at once whatever
runs. A write of an unknown command or an out-of-range setpoint is answered with
exception 3 (illegal data value) and changes nothing.

Every register is one unsigned 16-bit word; signed values (``temperature``) are two's
complement. A value outside ``allowed`` is a broken or foreign dock: the agent reports a
dock error and trusts nothing it read. ``heartbeat`` counts seconds of the PLC's
uptime (wrapping at 65536): a counter that stops moving is a dead PLC.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

PROTOCOL_VERSION = 1
"""The map's version; a dock reporting another one is not driven."""


class Mode(IntEnum):
    """``mode``: what the dock as a whole is doing."""

    IDLE = 0
    WORKING = 1
    """A command or an automatic move (rain closing the cover) runs."""
    MAINTENANCE = 2
    """Local maintenance switch on: remote commands are rejected."""
    ERROR = 3
    """A fault stopped the dock (``error_code`` says which); ``reset`` clears it."""
    EMERGENCY_STOP = 4
    """Every motor and the charger stopped; ``reset`` clears it once the button is out."""


class Cover(IntEnum):
    """``cover``: the roof over the pad. ``OPEN`` only at the open limit switch."""

    CLOSED = 0
    OPENING = 1
    OPEN = 2
    CLOSING = 3
    HALF_OPEN = 4
    """Stopped between the limits (emergency stop, obstacle): never reported open."""
    FAULT = 5
    """The drive is jammed or failed."""


class Clamp(IntEnum):
    """``clamp``: the arms holding the drone on the pad (and making charge contact)."""

    LOCKED = 0
    RELEASED = 1
    MOVING = 2
    FAULT = 3


class Charger(IntEnum):
    """``charger``: the drone charger."""

    IDLE = 0
    CHARGING = 1
    FULL = 2
    FAULT = 3


class PowerSource(IntEnum):
    """``power_source``: where the dock's power comes from."""

    MAINS = 0
    BATTERY = 1
    """Mains lost: the dock runs on its backup battery; it does not charge the drone."""


class Rain(IntEnum):
    """``rain``: the rain sensor's level."""

    NONE = 0
    LIGHT = 1
    MODERATE = 2
    HEAVY = 3


class Command(IntEnum):
    """``command``: what the agent asks (0 is "no command")."""

    NONE = 0
    COVER_OPEN = 1
    COVER_CLOSE = 2
    CLAMP_LOCK = 3
    CLAMP_RELEASE = 4
    CHARGE_ON = 5
    CHARGE_OFF = 6
    DRONE_POWER_ON = 7
    DRONE_POWER_OFF = 8
    RESET = 9
    """Clear an error or an emergency stop (the button released) and go idle."""
    EMERGENCY_STOP = 10
    """Stop everything now; accepted whatever runs."""


class CommandStatus(IntEnum):
    """``command_status``: the outcome of the command numbered ``command_seq_ack``."""

    NONE = 0
    ACCEPTED = 1
    IN_PROGRESS = 2
    """``command_step`` and ``command_percent`` say how far."""
    OK = 3
    FAILED = 4
    """Started but did not reach its end; ``command_reason`` says why."""
    REJECTED = 5
    """Not started: not allowed now (``command_reason``)."""
    BUSY = 6
    """Not started: another command runs. A dock answers such a write with Modbus
    exception 6 (device busy) and keeps reporting the running command here; the value is
    for docks that cannot answer exceptions."""


class Reason(IntEnum):
    """``error_code`` and ``command_reason``: why the dock is in error or said no."""

    NONE = 0
    COVER_JAM = 1
    COVER_HALF_OPEN = 2
    """The cover stopped between its limits."""
    CLAMP_FAULT = 3
    CHARGER_FAULT = 4
    MAINS_LOST = 5
    EMERGENCY_STOP = 6
    """Pressed, or commanded; also why a command was cut short."""
    FLIGHT_UNDER_WAY = 7
    """Cover close refused: a flight is under way and the drone is not in the dock."""
    NO_DRONE = 8
    """The command needs the drone on the pad."""
    CLAMP_NOT_LOCKED = 9
    """Charging needs the drone clamped (the clamp makes the charge contacts)."""
    MAINTENANCE = 10
    """The local maintenance switch is on: remote commands are refused."""
    RAIN = 11
    """The cover does not open in rain with the drone inside."""
    IN_ERROR = 12
    """The dock is in error (``error_code``): only ``reset`` and ``emergency_stop`` run."""


Access = Literal["R", "RW"]


@dataclass(frozen=True)
class Register:
    """One 16-bit register of the map."""

    name: str
    address: int
    """0-based, as on the wire (PLC tools may show input register 0 as 30001)."""
    meaning: str
    access: Access
    """``R`` read only (input register), ``RW`` read/write (holding register)."""
    unit: str = ""
    """Unit of the engineering value (after ``scale``); empty for enums and counters."""
    scale: float = 1.0
    """Engineering value = raw value * scale."""
    low: int = 0
    """Smallest raw value allowed (signed registers: as a signed number)."""
    high: int = 0xFFFF
    """Largest raw value allowed."""
    enum: type[IntEnum] | None = None
    """The allowed values, when the register holds one of a set."""
    signed: bool = False
    """Two's complement."""

    def allowed(self) -> str:
        """The allowed values as the README states them."""
        if self.enum is not None:
            return ", ".join(f"{m.value} {m.name.lower()}" for m in self.enum)
        low, high = self.low * self.scale, self.high * self.scale
        unit = f" {self.unit}" if self.unit else ""
        return f"{_num(low)}..{_num(high)}{unit}"


def _num(value: float) -> str:
    return f"{value:g}"


def _enum(name: str, address: int, meaning: str, enum: type[IntEnum], access: Access) -> Register:
    return Register(name, address, meaning, access, enum=enum, high=max(enum))


HOLDING: tuple[Register, ...] = (
    _enum("command", 0, "the command to run (written with command_seq)", Command, "RW"),
    Register(
        "command_seq", 1, "command number; the dock acts when it changes (1..65535)", "RW", low=0
    ),
    Register(
        "flight_under_way",
        2,
        "1 while a flight from this dock is under way (the agent sets it before take-off "
        "and clears it after landing): the dock refuses to close the cover over an empty pad",
        "RW",
        high=1,
    ),
    Register(
        "charge_target_pct", 3, "charging stops (full) at this charge", "RW", "%", low=50, high=100
    ),
)
"""Holding registers: commands and setpoints, read/write (function codes 3, 6, 16)."""

INPUT: tuple[Register, ...] = (
    Register("protocol_version", 0, "version of this register map", "R", low=1, high=1),
    Register(
        "heartbeat", 1, "PLC uptime in seconds, wrapping at 65536: a stopped one is dead", "R", "s"
    ),
    _enum("mode", 2, "what the dock is doing", Mode, "R"),
    _enum("cover", 3, "the cover (open only at the open limit switch)", Cover, "R"),
    Register("cover_position", 4, "cover opening, 0 closed .. 100 open", "R", "%", 0.1, 0, 1000),
    _enum("clamp", 5, "the drone clamp", Clamp, "R"),
    _enum("charger", 6, "the drone charger", Charger, "R"),
    Register("charge_voltage", 7, "charger output voltage", "R", "V", 0.01, 0, 6000),
    Register("charge_current", 8, "charger output current", "R", "A", 0.01, 0, 3000),
    Register("drone_present", 9, "1: a drone stands on the pad (pad sensor)", "R", high=1),
    Register("drone_power", 10, "1: the drone on the pad is powered on", "R", high=1),
    Register(
        "drone_battery",
        11,
        "the docked drone's charge, as the charger measures it",
        "R",
        "%",
        0.1,
        0,
        1000,
    ),
    _enum("power_source", 12, "where the dock's power comes from", PowerSource, "R"),
    Register("wind_speed", 13, "wind speed at the dock", "R", "m/s", 0.1, 0, 600),
    Register(
        "wind_direction",
        14,
        "where the wind comes from, clockwise from north",
        "R",
        "deg",
        1.0,
        0,
        359,
    ),
    _enum("rain", 15, "rain sensor level", Rain, "R"),
    Register("temperature", 16, "air temperature", "R", "degC", 0.1, -400, 850, signed=True),
    Register("humidity", 17, "relative humidity", "R", "%", 0.1, 0, 1000),
    _enum("error_code", 18, "why the dock is in error (0 none)", Reason, "R"),
    Register("command_seq_ack", 19, "command_seq of the command the status is about", "R"),
    _enum("command_status", 20, "outcome of that command", CommandStatus, "R"),
    Register("command_step", 21, "step of the running command (1-based; 0 none)", "R", high=16),
    Register("command_percent", 22, "progress of the running command", "R", "%", 1.0, 0, 100),
    _enum("command_reason", 23, "why that command failed or was rejected (0 none)", Reason, "R"),
)
"""Input registers: the dock's state, read only (function code 4)."""

HOLDING_BY_NAME = {r.name: r for r in HOLDING}
INPUT_BY_NAME = {r.name: r for r in INPUT}
INPUT_COUNT = len(INPUT)
"""Input registers read in one request (addresses 0..INPUT_COUNT-1)."""
HOLDING_COUNT = len(HOLDING)


def render_markdown() -> str:
    """The map as the README's tables (the README section is checked against this)."""
    lines = [
        f"Protocol version {PROTOCOL_VERSION}. Addresses are 0-based, one unsigned 16-bit "
        "word each (temperature is signed); engineering value = raw x scale.",
        "",
        "Holding registers (read/write: function codes 3, 6, 16):",
        "",
        "| address | register | meaning | units (scale) | R/W | allowed |",
        "|---|---|---|---|---|---|",
    ]
    lines += [_row(r) for r in HOLDING]
    lines += [
        "",
        "Input registers (read only: function code 4):",
        "",
        "| address | register | meaning | units (scale) | R/W | allowed |",
        "|---|---|---|---|---|---|",
    ]
    lines += [_row(r) for r in INPUT]
    return "\n".join(lines) + "\n"


def _row(r: Register) -> str:
    unit = f"{r.unit} ({_num(r.scale)})" if r.unit else ""
    return f"| {r.address} | `{r.name}` | {r.meaning} | {unit} | {r.access} | {r.allowed()} |"
