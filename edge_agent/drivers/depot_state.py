"""Reading a dock's registers into a state the agent can trust, or a reason not to.

Nothing a dock reports is taken on faith: every register is checked against the map
(``shared.dock_registers``: an enum's values, a range, the protocol version) before any
of it is used; one bad register makes the whole reading a ``DockFault``, so the agent
never acts on half of a broken answer. A heartbeat that stops moving is a dead PLC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared import dock_registers as reg
from shared.dock_registers import (
    Charger,
    Clamp,
    CommandStatus,
    Cover,
    Mode,
    PowerSource,
    Rain,
    Reason,
)
from shared.messages import DepotStatus, DockCommand, DockWeather


class DockFault(Exception):
    """The dock cannot be trusted: ``code`` (``bad_register``, ``protocol_mismatch``,
    ``heartbeat_stale``, ``dock_unreachable``) and the words saying what was seen."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class DockState:
    """One checked reading of the dock, in engineering units."""

    heartbeat: int
    mode: Mode
    cover: Cover
    cover_position_pct: float
    clamp: Clamp
    charger: Charger
    charge_voltage_v: float
    charge_current_a: float
    drone_present: bool
    drone_power: bool
    drone_battery_pct: float
    power_source: PowerSource
    wind_speed_m_s: float
    wind_direction_deg: float
    rain: Rain
    temperature_c: float
    humidity_pct: float
    error: Reason
    seq_ack: int
    command_status: CommandStatus
    command_step: int
    command_percent: int
    command_reason: Reason
    flight_under_way: bool
    command_seq: int
    """The last command number written to the dock (holding register)."""

    def summary(self) -> str:
        """The state in a few words, for failure messages."""
        text = (
            f"mode {_word(self.mode)}, cover {_word(self.cover)} "
            f"({self.cover_position_pct:.0f} %), clamp {_word(self.clamp)}, "
            f"charger {_word(self.charger)}, drone {'in' if self.drone_present else 'not in'} "
            f"the dock"
        )
        if self.error is not Reason.NONE:
            text += f", error {_word(self.error)}"
        if self.rain is not Rain.NONE:
            text += f", rain {_word(self.rain)}"
        return text


def _word(value: object) -> str:
    name = getattr(value, "name", str(value))
    return str(name).lower()


def _checked(registers: Sequence[reg.Register], raw: Sequence[int]) -> dict[str, int]:
    if len(raw) < len(registers):
        raise DockFault("bad_register", f"{len(raw)} registers read, {len(registers)} expected")
    values: dict[str, int] = {}
    for r in registers:
        value = raw[r.address]
        if r.signed and value >= 0x8000:
            value -= 0x10000
        if r.enum is not None:
            if value not in r.enum._value2member_map_:
                raise DockFault(
                    "bad_register",
                    f"{r.name} (address {r.address}) is {value}: not one of {r.allowed()}",
                )
        elif not r.low <= value <= r.high:
            raise DockFault(
                "bad_register",
                f"{r.name} (address {r.address}) is {value}: outside {r.low}..{r.high} raw "
                f"({r.allowed()})",
            )
        values[r.name] = value
    return values


def decode(inputs: Sequence[int], holding: Sequence[int]) -> DockState:
    """The state in ``inputs`` (input registers 0..) and ``holding`` (holding registers 0..);
    ``DockFault`` for anything the map does not allow."""
    if inputs and inputs[0] != reg.PROTOCOL_VERSION:
        raise DockFault(
            "protocol_mismatch",
            f"the dock speaks register map version {inputs[0]}, the agent {reg.PROTOCOL_VERSION}",
        )
    i = _checked(reg.INPUT, inputs)
    h = _checked(reg.HOLDING, holding)
    by = reg.INPUT_BY_NAME

    def scaled(name: str) -> float:
        return round(i[name] * by[name].scale, 3)

    return DockState(
        heartbeat=i["heartbeat"],
        mode=Mode(i["mode"]),
        cover=Cover(i["cover"]),
        cover_position_pct=scaled("cover_position"),
        clamp=Clamp(i["clamp"]),
        charger=Charger(i["charger"]),
        charge_voltage_v=scaled("charge_voltage"),
        charge_current_a=scaled("charge_current"),
        drone_present=bool(i["drone_present"]),
        drone_power=bool(i["drone_power"]),
        drone_battery_pct=scaled("drone_battery"),
        power_source=PowerSource(i["power_source"]),
        wind_speed_m_s=scaled("wind_speed"),
        wind_direction_deg=scaled("wind_direction"),
        rain=Rain(i["rain"]),
        temperature_c=scaled("temperature"),
        humidity_pct=scaled("humidity"),
        error=Reason(i["error_code"]),
        seq_ack=i["command_seq_ack"],
        command_status=CommandStatus(i["command_status"]),
        command_step=i["command_step"],
        command_percent=i["command_percent"],
        command_reason=Reason(i["command_reason"]),
        flight_under_way=bool(h["flight_under_way"]),
        command_seq=h["command_seq"],
    )


def check_limits(state: DockState, max_voltage_v: float, max_current_a: float) -> None:
    """Values the map allows but this dock's charger cannot produce: ``DockFault``."""
    if state.charge_voltage_v > max_voltage_v:
        raise DockFault(
            "bad_register",
            f"charge_voltage {state.charge_voltage_v:g} V is above the charger's "
            f"{max_voltage_v:g} V (max_charge_voltage_v)",
        )
    if state.charge_current_a > max_current_a:
        raise DockFault(
            "bad_register",
            f"charge_current {state.charge_current_a:g} A is above the charger's "
            f"{max_current_a:g} A (max_charge_current_a)",
        )


_DOOR = {
    Cover.CLOSED: "closed",
    Cover.OPEN: "open",
    Cover.OPENING: "moving",
    Cover.CLOSING: "moving",
    Cover.HALF_OPEN: "half_open",
    Cover.FAULT: "fault",
}


def to_status(
    state: DockState | None,
    fault: DockFault | None,
    command: DockCommand | None,
    busy: bool,
) -> DepotStatus:
    """``msg/depot_status``: the original fields first, then the full state; a fault
    reports ``error`` and nothing read from the dock."""
    if fault is not None or state is None:
        code = fault.code if fault is not None else "dock_unreachable"
        detail = fault.detail if fault is not None else "no reading yet"
        return DepotStatus(status="error", error=code, detail=detail, command=command)
    if state.mode in (Mode.ERROR, Mode.EMERGENCY_STOP):
        status = "error"
    elif busy or state.mode is Mode.WORKING:
        status = "busy"
    elif state.charger is Charger.CHARGING:
        status = "charging"
    else:
        status = "idle"
    return DepotStatus(
        status=status,
        power=round(state.charge_voltage_v * state.charge_current_a, 2),
        door=_DOOR[state.cover],
        fix=state.clamp is Clamp.LOCKED,
        mode=_word(state.mode),
        cover=_word(state.cover),
        cover_position=state.cover_position_pct,
        clamp=_word(state.clamp),
        charger=_word(state.charger),
        charge_voltage=state.charge_voltage_v,
        charge_current=state.charge_current_a,
        drone_present=state.drone_present,
        drone_power=state.drone_power,
        drone_battery=state.drone_battery_pct,
        power_source=_word(state.power_source),
        flight_under_way=state.flight_under_way,
        weather=DockWeather(
            wind_speed=state.wind_speed_m_s,
            wind_direction=state.wind_direction_deg,
            rain=_word(state.rain),
            temperature=state.temperature_c,
            humidity=state.humidity_pct,
        ),
        error=None if state.error is Reason.NONE else _word(state.error),
        command=command,
        uptime=float(state.heartbeat),
    )
