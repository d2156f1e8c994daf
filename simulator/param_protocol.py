"""The MAVLink parameter protocol on the vehicle side (PARAM_REQUEST_LIST/READ, PARAM_SET).

Every answer is a PARAM_VALUE with INT32 values encoded bytewise, as PX4 does; a
PARAM_SET of an unknown name or a non-finite value changes nothing and is answered with
nothing (PX4's behaviour: the client times out), and is counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pymavlink.dialects.v20 import common as mavlink

from simulator.params import ParamTable, ParamType


def _name(raw: object) -> str:
    if isinstance(raw, bytes):
        return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace")
    return str(raw).split("\x00", 1)[0]


class ParamProtocol:
    """Parameter service of one vehicle."""

    def __init__(
        self, params: ParamTable, mav: mavlink.MAVLink, send: Callable[[Any], None]
    ) -> None:
        self.params = params
        self.mav = mav
        self.send = send
        self.rejected = 0
        """Requests and sets that named no parameter or carried a bad value."""

    def _value(self, name: str) -> None:
        value, kind = self.params.wire_value(name)
        self.send(
            self.mav.param_value_encode(
                name.encode("ascii"), value, int(kind), len(self.params), self.params.index_of(name)
            )
        )

    def handle(self, msg: Any) -> bool:
        kind = msg.get_type()
        if kind == "PARAM_REQUEST_LIST":
            for name in self.params.names():
                self._value(name)
        elif kind == "PARAM_REQUEST_READ":
            found = (
                self.params.name_at(msg.param_index)
                if msg.param_index >= 0
                else _name(msg.param_id)
            )
            if found is None or self.params.spec(found) is None:
                self.rejected += 1
                return True
            self._value(found)
        elif kind == "PARAM_SET":
            name = _name(msg.param_id)
            spec = self.params.spec(name)
            if spec is None:
                self.rejected += 1
                return True
            if (
                msg.param_type in (int(ParamType.INT32), int(ParamType.REAL32))
                and msg.param_type != spec.type
            ):
                self.rejected += 1  # wrong type: answer the current value, like PX4
                self._value(name)
                return True
            value = self.params.decode_wire(name, float(msg.param_value))
            if not math.isfinite(value):
                self.rejected += 1
                return True
            self.params.set(name, value)
            self._value(name)
        else:
            return False
        return True
