"""The wall clock, injected so that tests can move time instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current UTC-aware time."""


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)
