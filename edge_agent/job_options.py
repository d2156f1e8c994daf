"""The well-known keys of a job's ``extra`` (DESIGN §6), checked once, typed.

``extra`` is ``map[string]string`` on the wire, so every value arrives as text. The
executor checks them before it accepts a job (a bad value is ``INVALID_JOB`` at once,
not a failure minutes later) and applies the link-loss policy; the drone driver uses
the flight ones. Unknown keys pass through untouched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

OnFinish = Literal["rtl", "land", "hold"]
LinkLossAction = Literal["continue", "hold", "rtl", "land"]

DEFAULT_LINK_LOSS_TIMEOUT_S = 30.0


class JobOptionError(ValueError):
    """An ``extra`` value that cannot be used; the message names the key."""


@dataclass(frozen=True)
class JobOptions:
    takeoff_alt_m: float | None = None
    """Takeoff height above home, metres (None: the mission's or the driver's default)."""
    speed_m_s: float | None = None
    """Cruise speed for the mission, metres per second (None: the vehicle's own)."""
    on_finish: OnFinish = "rtl"
    """What the vehicle does once every mission item was reached."""
    link_loss_action: LinkLossAction = "continue"
    """What the agent makes the vehicle do when the broker link is gone too long."""
    link_loss_timeout_s: float = DEFAULT_LINK_LOSS_TIMEOUT_S
    """How long the broker link may be gone before ``link_loss_action``, seconds."""
    min_battery_pct: float | None = None
    """Preflight battery gate, percent (None: the driver's default)."""


def _number(extra: Mapping[str, str], key: str, low: float, high: float) -> float | None:
    text = extra.get(key)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise JobOptionError(f"extra.{key}: {text[:40]!r} is not a number") from None
    if math.isnan(value) or not low <= value <= high:
        raise JobOptionError(f"extra.{key}: {value:g} is outside {low:g}..{high:g}")
    return value


def _choice(extra: Mapping[str, str], key: str, choices: tuple[str, ...], default: str) -> str:
    text = extra.get(key, default)
    if text not in choices:
        raise JobOptionError(f"extra.{key}: {text[:40]!r} is not one of {', '.join(choices)}")
    return text


def parse_job_options(extra: Mapping[str, str]) -> JobOptions:
    """The typed options of ``extra``; ``JobOptionError`` for the first bad value."""
    timeout_s = _number(extra, "link_loss_timeout_s", 1.0, 3600.0)
    return JobOptions(
        takeoff_alt_m=_number(extra, "takeoff_alt_m", 1.0, 1000.0),
        speed_m_s=_number(extra, "speed_m_s", 0.1, 50.0),
        on_finish=cast(OnFinish, _choice(extra, "on_finish", ("rtl", "land", "hold"), "rtl")),
        link_loss_action=cast(
            LinkLossAction,
            _choice(extra, "link_loss_action", ("continue", "hold", "rtl", "land"), "continue"),
        ),
        link_loss_timeout_s=DEFAULT_LINK_LOSS_TIMEOUT_S if timeout_s is None else timeout_s,
        min_battery_pct=_number(extra, "min_battery_pct", 0.0, 100.0),
    )
