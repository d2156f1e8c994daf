"""The simulated vehicle's PX4-like parameters: names, types, defaults and their wire form.

PX4 sends every parameter in PARAM_VALUE's float field, INT32 ones "bytewise" (the int32
bits reinterpreted as a float, not converted). MAVSDK decides how to decode from the
heartbeat's autopilot (anything but ArduPilot is decoded bytewise), so the simulator must
do the same or MAVSDK reads garbage integers. This module is pure: a table and its codec.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from enum import IntEnum


class ParamType(IntEnum):
    """MAV_PARAM_TYPE values the simulator uses (PX4 only has these two)."""

    INT32 = 6
    REAL32 = 9


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter's definition."""

    name: str
    """PX4 name, at most 16 characters."""
    type: ParamType
    default: float
    """Default value (an integer for INT32 parameters)."""
    minimum: float = -math.inf
    maximum: float = math.inf


SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("SYS_AUTOSTART", ParamType.INT32, 4001, 0, 9_999_999),
    ParamSpec("MAV_SYS_ID", ParamType.INT32, 1, 1, 255),
    ParamSpec("MIS_TAKEOFF_ALT", ParamType.REAL32, 2.5, 0, 500),
    ParamSpec("MPC_XY_CRUISE", ParamType.REAL32, 5.0, 0.1, 30),
    ParamSpec("MPC_XY_VEL_MAX", ParamType.REAL32, 12.0, 0.1, 30),
    ParamSpec("MPC_Z_VEL_MAX_UP", ParamType.REAL32, 3.0, 0.1, 10),
    ParamSpec("MPC_Z_VEL_MAX_DN", ParamType.REAL32, 1.5, 0.1, 10),
    ParamSpec("MPC_LAND_SPEED", ParamType.REAL32, 0.7, 0.1, 5),
    ParamSpec("MPC_TKO_SPEED", ParamType.REAL32, 1.5, 0.1, 5),
    ParamSpec("NAV_ACC_RAD", ParamType.REAL32, 2.0, 0.05, 200),
    ParamSpec("RTL_RETURN_ALT", ParamType.REAL32, 60.0, 0, 500),
    ParamSpec("RTL_DESCEND_ALT", ParamType.REAL32, 30.0, 0, 500),
    ParamSpec("NAV_DLL_ACT", ParamType.INT32, 0, 0, 3),
    ParamSpec("COM_DL_LOSS_T", ParamType.INT32, 10, 5, 300),
    ParamSpec("COM_LOW_BAT_ACT", ParamType.INT32, 3, 0, 3),
    ParamSpec("COM_DISARM_LAND", ParamType.REAL32, 2.0, -1, 20),
    ParamSpec("BAT_LOW_THR", ParamType.REAL32, 0.15, 0.12, 0.5),
    ParamSpec("BAT_CRIT_THR", ParamType.REAL32, 0.07, 0.05, 0.5),
    ParamSpec("BAT_N_CELLS", ParamType.INT32, 4, 1, 16),
    ParamSpec("GF_ACTION", ParamType.INT32, 1, 0, 4),
    ParamSpec("GF_MAX_HOR_DIST", ParamType.REAL32, 0.0, 0, 10_000),
    ParamSpec("GF_MAX_VER_DIST", ParamType.REAL32, 0.0, 0, 10_000),
    ParamSpec("MIS_DIST_1WP", ParamType.REAL32, 10_000.0, -1, 100_000),
    ParamSpec("MIS_TKO_LAND_REQ", ParamType.INT32, 0, 0, 5),
    ParamSpec("COM_ARM_MIS_REQ", ParamType.INT32, 0, 0, 1),
)
"""The parameter set, in index order (PARAM_VALUE's ``param_index``), with PX4 v1.15's
defaults. The mission ones: ``MIS_DIST_1WP`` (the first waypoint must be closer than this
to the vehicle; 10 km since PX4 PR #23193, <= 0 disables), ``MIS_TKO_LAND_REQ`` (takeoff /
landing items a mission must have, 0-5, see ``feasibility.py``), ``COM_ARM_MIS_REQ`` (1:
no arming at all without a valid mission; by default only arming *in Mission mode* needs
one)."""


def float_bits_of_int32(value: int) -> float:
    """INT32 in PARAM_VALUE's float field, bytewise (PX4's and MAVSDK's convention)."""
    result: float = struct.unpack("<f", struct.pack("<i", value))[0]
    return result


def int32_of_float_bits(value: float) -> int:
    """The int32 whose bits a bytewise-encoded float carries."""
    result: int = struct.unpack("<i", struct.pack("<f", value))[0]
    return result


class ParamTable:
    """The current values of one vehicle's parameters."""

    def __init__(self, overrides: dict[str, float] | None = None) -> None:
        self._specs = {spec.name: spec for spec in SPECS}
        self._index = {spec.name: i for i, spec in enumerate(SPECS)}
        self._values: dict[str, float] = {spec.name: spec.default for spec in SPECS}
        for name, value in (overrides or {}).items():
            self.set(name, value)

    def __len__(self) -> int:
        return len(SPECS)

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def get_int(self, name: str) -> int:
        return int(self._values[name])

    def names(self) -> list[str]:
        return [spec.name for spec in SPECS]

    def spec(self, name: str) -> ParamSpec | None:
        return self._specs.get(name)

    def index_of(self, name: str) -> int:
        return self._index[name]

    def name_at(self, index: int) -> str | None:
        return SPECS[index].name if 0 <= index < len(SPECS) else None

    def set(self, name: str, value: float) -> float:
        """Set a value, clamped to the parameter's range (and rounded for INT32);
        returns what is stored. Unknown names and non-finite values raise ValueError."""
        spec = self._specs.get(name)
        if spec is None:
            raise ValueError(f"unknown parameter {name!r}")
        if not math.isfinite(value):
            raise ValueError(f"{name}: value must be finite")
        clamped = min(max(value, spec.minimum), spec.maximum)
        if spec.type is ParamType.INT32:
            clamped = float(round(clamped))
        self._values[name] = clamped
        return clamped

    def wire_value(self, name: str) -> tuple[float, ParamType]:
        """The float to put in PARAM_VALUE and its type."""
        spec = self._specs[name]
        if spec.type is ParamType.INT32:
            return float_bits_of_int32(int(self._values[name])), spec.type
        return self._values[name], spec.type

    def decode_wire(self, name: str, value: float) -> float:
        """A PARAM_SET value for ``name`` back to a number (bytewise for INT32)."""
        spec = self._specs.get(name)
        if spec is None:
            raise ValueError(f"unknown parameter {name!r}")
        if spec.type is ParamType.INT32:
            return float(int32_of_float_bits(value))
        return value
