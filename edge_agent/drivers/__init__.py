"""Drivers of what an agent controls, and the registry that picks one by config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from edge_agent.drivers.base import Driver, DriverConfigError, DriverError, TelemetrySample

__all__ = [
    "DRIVERS",
    "Driver",
    "DriverConfigError",
    "DriverError",
    "TelemetrySample",
    "load_driver",
]


def _fake(settings: Mapping[str, Any]) -> Driver:
    from edge_agent.drivers.fake import FakeDriver

    return FakeDriver(settings)


def _mavsdk(settings: Mapping[str, Any]) -> Driver:
    from edge_agent.drivers.mavsdk_drone import create_driver

    return create_driver(settings)


def _depot(settings: Mapping[str, Any]) -> Driver:
    from edge_agent.drivers.depot import create_driver

    return create_driver(settings)


DRIVERS: dict[str, Callable[[Mapping[str, Any]], Driver]] = {
    "fake": _fake,
    "mavsdk": _mavsdk,
    "depot": _depot,
}
"""Driver kinds by name; each is imported only when chosen (a drone needs no depot code)."""


def load_driver(kind: str, settings: Mapping[str, Any]) -> Driver:
    """The driver ``kind`` configured with ``settings``; ``DriverConfigError`` says why not."""
    factory = DRIVERS.get(kind)
    if factory is None:
        known = ", ".join(sorted(DRIVERS))
        raise DriverConfigError(f"unknown driver kind {kind!r} (known: {known})")
    return factory(settings)
