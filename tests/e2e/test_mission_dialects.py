"""Mission files in the dialects of other tools, flown end to end as their authors meant.

Every piece is a process of its own (see ``test_flight``); how the vehicle flew is read
afterwards from the simulator's flight log, never from the agent under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from control_plane.demo_mission import offset
from tests.e2e.sim_process import HOME
from tests.e2e.test_flight import SIDE_M, flying

pytestmark = [pytest.mark.integration, pytest.mark.flight]

TAKEOFF_M = 20.0


def ardupilot_wpl(home: tuple[float, float, float]) -> bytes:
    """A square as MAVProxy and ArduPilot save a ``QGC WPL 110`` list: row 0 is the home
    (``current`` 0, frame 0, altitude AMSL), row 1 the takeoff, heights relative."""
    lat, lon, amsl = home
    rows = [(0, 0, 16, 0.0, lat, lon, amsl), (0, 3, 22, 0.0, 0.0, 0.0, TAKEOFF_M)]
    for north, east in [(SIDE_M, 0.0), (SIDE_M, SIDE_M), (0.0, SIDE_M)]:
        wlat, wlon = offset(lat, lon, north, east)
        rows.append((0, 3, 16, 0.0, wlat, wlon, TAKEOFF_M))
    rows.append((0, 3, 20, 0.0, 0.0, 0.0, 0.0))
    lines = ["QGC WPL 110"]
    for index, (current, frame, command, p1, x, y, z) in enumerate(rows):
        lines.append(
            f"{index}\t{current}\t{frame}\t{command}\t{p1:.6f}\t0.000000\t0.000000\t0.000000"
            f"\t{x:.8f}\t{y:.8f}\t{z:.6f}\t1"
        )
    return ("\n".join(lines) + "\n").encode()


def window(track: list[dict[str, Any]], start: float, before_seq: int) -> list[dict[str, Any]]:
    """Samples from the first at ``start`` metres up to the vehicle's reaching item
    ``before_seq - 1`` (its current item becoming ``before_seq``)."""
    first = next(i for i, s in enumerate(track) if s["rel_alt_m"] >= start)
    rest = track[first:]
    end = next((i for i, s in enumerate(rest) if s["mission_seq"] >= before_seq), len(rest))
    return rest[:end]


async def test_an_ardupilot_home_row_is_the_home_and_the_drone_never_dips_toward_it(
    tmp_path: Path, database_url: str
) -> None:
    async with flying(tmp_path, database_url) as flight:
        ((node_id, _),) = flight.nodes
        plan_id = await flight.plan(node_id, ardupilot_wpl(HOME), "field.waypoints")
        job_id = await flight.run(plan_id)
        job = await flight.ended(plan_id, job_id)
        assert job["status"] == "succeeded", await flight.story(plan_id, job_id)
        items = 5  # takeoff, three corners, return: the home row is not an item
        assert await flight.reached(plan_id, job_id) == list(range(items))
        state = await flight.sim.status(0)
        assert state["mission_items"] == items, "the home row was uploaded as an item"
        answer = await flight.sim.request(0, "track")
        track = [dict(zip(answer["fields"], row, strict=True)) for row in answer["track"]]
        # From the takeoff height until the first corner (item 1) is reached.
        legs = window(track, 0.9 * TAKEOFF_M, before_seq=2)
        assert legs, "the flight log covers the climb and the first leg"
        lowest = min(s["rel_alt_m"] for s in legs)
        assert lowest >= 0.9 * TAKEOFF_M, f"the drone dipped to {lowest:.1f} m on its first leg"
