"""The well-known keys of a job's ``extra`` (DESIGN §6): the one definition of each.

``extra`` is ``map[string]string`` on the wire, so every value arrives as text. Both
sides read it with ``parse_job_options``: the control plane refuses a bad value at plan
create/replace and at job create (422, naming the key and its bound), and the agent
refuses a job carrying one (``INVALID_JOB``), so a value the control plane stored is one
the agent flies. Unknown keys pass through untouched (they are the job's own inputs).

To add an option, add a field to ``JobOptions``: its name is the key, its type the
accepted values (a bounded float with a unit, a bounded int, or a ``Literal`` of words),
its default
what the job gets when the key is absent, and its docstring what it means. ``OPTIONS``
is derived from the fields, so the checks, the messages and the defaults follow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import msgspec.inspect

OnFinish = Literal["rtl", "land", "hold"]
LinkLossAction = Literal["continue", "hold", "rtl", "land"]
EndlessLoops = Literal["refuse", "allow"]


def _bounded(low: float, high: float, unit: str) -> msgspec.Meta:
    """A closed range of a number option, in ``unit`` (shown in error messages)."""
    return msgspec.Meta(ge=low, le=high, extra={"unit": unit})


MAX_ITEM = 9_999
"""The largest mission item number (``shared.mission.items.MAX_ITEMS`` items, from 0)."""


DEFAULT_LINK_LOSS_TIMEOUT_S = 30.0


class JobOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The typed well-known options of one job."""

    takeoff_alt_m: Annotated[float, _bounded(1.0, 1000.0, "m")] | None = None
    """Takeoff height above home, metres (None: the mission's takeoff item, else the
    driver's ``default_takeoff_alt_m``)."""
    speed_m_s: Annotated[float, _bounded(0.1, 50.0, "m/s")] | None = None
    """Cruise speed for the mission, metres per second (None: the driver's
    ``mission_speed_m_s``, else the vehicle's own)."""
    on_finish: OnFinish = "rtl"
    """What the vehicle does once every mission item was reached."""
    link_loss_action: LinkLossAction = "continue"
    """What the agent makes the vehicle do when the broker link is gone too long."""
    link_loss_timeout_s: Annotated[float, _bounded(1.0, 3600.0, "s")] = DEFAULT_LINK_LOSS_TIMEOUT_S
    """How long the broker link may be gone before ``link_loss_action``, seconds."""
    min_battery_pct: Annotated[float, _bounded(0.0, 100.0, "%")] | None = None
    """Preflight battery gate, percent (None: the driver's ``min_battery_pct``)."""
    endless_loops: EndlessLoops = "refuse"
    """A mission DO_JUMP repeating for ever (repeat -1): ``refuse`` it (the job would never
    end by itself), or ``allow`` it: the job flies until it is cancelled or a failsafe
    (low battery, geofence) ends it (``shared.mission.feasibility`` says why)."""
    resume_from: Annotated[int, msgspec.Meta(ge=0, le=MAX_ITEM)] | None = None
    """Fly the mission from this item (its number in the file, from 0) to the end, after
    a takeoff and the speed and camera settings the items before it made
    (``shared.mission.resume``); ``POST .../jobs/{job_id}/resume`` sets it."""


class JobOptionError(ValueError):
    """An ``extra`` value that cannot be used; the message names the key and the bound."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"extra.{key}: {message}")
        self.key = key
        self.location = f"extra.{key}"
        """Where the bad value is, as the control plane's errors say it."""


@dataclass(frozen=True)
class JobOption:
    """One well-known key as read from ``JobOptions``: what it accepts and its default."""

    key: str
    default: Any
    """The value a job gets when ``extra`` lacks the key (None: decided by the driver)."""
    low: float | None = None
    """Smallest number accepted (number options), inclusive."""
    high: float | None = None
    """Largest number accepted (number options), inclusive."""
    unit: str = ""
    """Unit of a number option (``m``, ``m/s``, ``s``, ``%``)."""
    choices: tuple[str, ...] = ()
    """Words accepted (choice options)."""
    whole: bool = False
    """A whole number (an item number): digits only."""

    def parse(self, text: str) -> float | str:
        """The value of ``text``; ``JobOptionError`` when it is not accepted."""
        if self.choices:
            if text not in self.choices:
                raise JobOptionError(
                    self.key, f"{text[:40]!r} is not one of {', '.join(self.choices)}"
                )
            return text
        assert self.low is not None
        assert self.high is not None
        if self.whole:
            if not (text.isascii() and text.isdigit()):
                raise JobOptionError(self.key, f"{text[:40]!r} is not a whole number")
            number = int(text[:12])  # more digits are out of range anyway
            if not self.low <= number <= self.high or len(text) > 12:
                raise JobOptionError(
                    self.key, f"{text[:40]} is outside {self.low:g}..{self.high:g}"
                )
            return number
        try:
            value = float(text)
        except ValueError:
            raise JobOptionError(self.key, f"{text[:40]!r} is not a number") from None
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise JobOptionError(
                self.key, f"{value:g} is outside {self.low:g}..{self.high:g} {self.unit}"
            )
        return value


def _option(field: msgspec.inspect.Field) -> JobOption:
    kind = field.type
    if isinstance(kind, msgspec.inspect.UnionType):  # "X | None": the X
        kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
    if isinstance(kind, msgspec.inspect.LiteralType):
        return JobOption(field.name, field.default, choices=tuple(map(str, kind.values)))
    if isinstance(kind, msgspec.inspect.Metadata) and isinstance(
        kind.type, msgspec.inspect.FloatType
    ):
        unit = (kind.extra or {}).get("unit", "")
        return JobOption(field.name, field.default, kind.type.ge, kind.type.le, unit)
    if isinstance(kind, msgspec.inspect.IntType) and None not in (kind.ge, kind.le):
        return JobOption(field.name, field.default, kind.ge, kind.le, whole=True)
    raise TypeError(f"JobOptions.{field.name}: a bounded float or int, or a Literal of words")


def _options() -> tuple[JobOption, ...]:
    info = msgspec.inspect.type_info(JobOptions)
    assert isinstance(info, msgspec.inspect.StructType)
    return tuple(_option(field) for field in info.fields)


OPTIONS: tuple[JobOption, ...] = _options()
"""Every well-known key, in ``JobOptions`` order."""

KEYS = frozenset(option.key for option in OPTIONS)
"""The well-known ``extra`` keys; any other key passes through unchecked."""


def parse_job_options(extra: Mapping[str, str]) -> JobOptions:
    """The typed options of ``extra``; ``JobOptionError`` for the first bad value."""
    values = {o.key: o.parse(extra[o.key]) for o in OPTIONS if o.key in extra}
    return msgspec.convert(values, JobOptions)
