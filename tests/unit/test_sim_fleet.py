"""The fleet's clock: simulated time follows wall time x speed-up, and says when it cannot."""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Awaitable, Callable

import pytest

from simulator import control, flight_log
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


async def test_the_flight_log_answers_how_a_vehicle_climbed_in_simulated_time() -> None:
    async with SimFleet(1, base_port=free_udp_port(), speedup=20) as fleet:
        vehicle = fleet.vehicles[0]

        async def armable() -> bool:
            return vehicle.arming_problem() is None

        await until(armable, "the vehicle has a GPS fix and a home")
        assert vehicle.arm() is None and vehicle.takeoff() is None

        async def climbed() -> bool:
            return vehicle.rel_alt_m > 2.0

        await until(climbed, "the vehicle climbs")
        answer = control.apply(fleet, {"vehicle": 0, "fault": "track"})
        rows = [dict(zip(answer["fields"], row, strict=True)) for row in answer["track"]]
        times = [row["sim_time_s"] for row in rows]
        assert times == sorted(times) and len(times) >= 3
        steps = [b - a for a, b in itertools.pairwise(times)]
        assert min(steps) >= flight_log.PERIOD_S - 1e-6, "at most one sample per period"
        heights = [row["rel_alt_m"] for row in rows]
        assert heights[0] < 0.5 and heights[-1] > 2.0, heights
        assert any(row["armed"] for row in rows)
        later = control.apply(fleet, {"vehicle": 0, "fault": "track", "value": times[1]})
        assert [row[0] for row in later["track"]][: len(times) - 2] == times[2:]
        with pytest.raises(control.ControlError):
            control.apply(fleet, {"vehicle": 0, "fault": "track", "value": "soon"})
