"""The fleet's clock: simulated time follows wall time x speed-up, and says when it cannot."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable

import pytest

from simulator.fleet import SimFleet
from tests.support import until


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_simulated_time_runs_at_the_speedup() -> None:
    async with SimFleet(2, base_port=free_udp_port(), speedup=10) as fleet:
        await until(_after(fleet, 1.0), "a wall second has passed")
        assert fleet.stats.realtime_factor == pytest.approx(10, rel=0.1)
        assert fleet.vehicles[0].sim_time_s == fleet.vehicles[1].sim_time_s
        assert fleet.vehicles[0].lat_deg != fleet.vehicles[1].lat_deg  # 4 m apart


def _after(fleet: SimFleet, wall_s: float) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return fleet.stats.wall_time_s >= wall_s

    return probe


async def test_an_impossible_speedup_falls_behind_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="simulator.fleet")
    async with SimFleet(1, base_port=free_udp_port(), speedup=1e5) as fleet:
        await until(_warned(caplog), "the fleet warns that it is behind")
        assert fleet.stats.lag_s > 1
        assert fleet.stats.max_tick_s < 0.5  # the loop still turns


def _warned(caplog: pytest.LogCaptureFixture) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return any("behind" in r.getMessage() for r in caplog.records)

    return probe


@pytest.mark.parametrize(
    "kwargs",
    [{"speedup": 0}, {"speedup": float("nan")}, {"home": (95.0, 0.0, 0.0)}, {"base_port": 65535}],
)
def test_bad_fleet_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        SimFleet(2, **kwargs)  # type: ignore[arg-type]
