"""Mission files: ``python -m bench.missions [--quick]`` prints parse and check times.

A 10,000-item mission (``MAX_ITEMS``: a takeoff, a 2 x 2 km lawnmower survey with a
waypoint every 20 m, an RTL), written both as a QGroundControl ``.plan`` (with a
geofence: a 12-vertex inclusion polygon around the survey, three exclusion zones beside
it) and as a ``QGC WPL 110`` list (no fence: the format has none). For each: the time to
parse it (``shared.mission.parse``), to check it as PX4 would (``feasibility``, the plan's
fence included: 10,000 legs against four areas), and the two together, which is what the
control plane pays at plan write and the agent at prepare. Median and worst of the runs,
in this process, on this machine.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from functools import partial

from shared import mav_cmd
from shared.mission import MissionFile, parse_mission_file
from shared.mission.feasibility import check_feasible

HOME = (47.397742, 8.545594, 488.0)
ITEMS = 10_000
SPACING_M = 20.0
ALT_M = 40.0


def _at(north_m: float, east_m: float) -> tuple[float, float]:
    lat = HOME[0] + math.degrees(north_m / 6_371_000.0)
    lon = HOME[1] + math.degrees(east_m / (6_371_000.0 * math.cos(math.radians(HOME[0]))))
    return lat, lon


def survey(waypoints: int) -> list[tuple[float, float]]:
    """A lawnmower of ``waypoints`` points, 100 per leg, ``SPACING_M`` apart: (north, east)."""
    points: list[tuple[float, float]] = []
    per_leg = 100
    for i in range(waypoints):
        leg, step = divmod(i, per_leg)
        north = step * SPACING_M if leg % 2 == 0 else (per_leg - 1 - step) * SPACING_M
        points.append((north + 50.0, leg * SPACING_M + 50.0))
    return points


def _fence() -> dict[str, object]:
    size = 2_200.0
    corners = [(-100.0, -100.0), (size, -100.0), (size, size), (-100.0, size)]
    ring = []  # 12 vertices: each side cut in three
    for (n0, e0), (n1, e1) in zip(corners, corners[1:] + corners[:1], strict=True):
        ring += [(n0 + (n1 - n0) * k / 3, e0 + (e1 - e0) * k / 3) for k in range(3)]
    beside = [(2_120.0, 500.0), (2_120.0, 1_000.0), (2_120.0, 1_500.0)]
    exclusions = [
        {"inclusion": False, "version": 1, "polygon": [list(_at(n, e)) for n, e in square]}
        for square in (
            [(cn - 30, ce - 30), (cn - 30, ce + 30), (cn + 30, ce + 30), (cn + 30, ce - 30)]
            for cn, ce in beside
        )
    ]
    return {
        "version": 2,
        "circles": [],
        "polygons": [
            {"inclusion": True, "version": 1, "polygon": [list(_at(n, e)) for n, e in ring]},
            *exclusions,
        ],
    }


def plan_file(points: list[tuple[float, float]]) -> bytes:
    def simple(seq: int, command: int, frame: int, params: list[float | None]) -> dict[str, object]:
        return {
            "type": "SimpleItem",
            "autoContinue": True,
            "command": command,
            "doJumpId": seq + 1,
            "frame": frame,
            "params": params,
        }

    items = [simple(0, mav_cmd.NAV_TAKEOFF, 3, [0, 0, 0, None, HOME[0], HOME[1], ALT_M])]
    for north, east in points:
        lat, lon = _at(north, east)
        items.append(simple(len(items), mav_cmd.NAV_WAYPOINT, 3, [0, 0, 0, None, lat, lon, ALT_M]))
    items.append(simple(len(items), mav_cmd.NAV_RETURN_TO_LAUNCH, 2, [0, 0, 0, 0, 0, 0, 0]))
    plan = {
        "fileType": "Plan",
        "groundStation": "QGroundControl",
        "version": 1,
        "mission": {
            "version": 2,
            "firmwareType": 12,
            "vehicleType": 2,
            "cruiseSpeed": 15,
            "hoverSpeed": 5,
            "plannedHomePosition": list(HOME),
            "items": items,
        },
        "geoFence": _fence(),
        "rallyPoints": {"version": 2, "points": []},
    }
    return json.dumps(plan).encode()


def wpl_file(points: list[tuple[float, float]]) -> bytes:
    rows = [f"0\t1\t0\t16\t0\t0\t0\t0\t{HOME[0]:.7f}\t{HOME[1]:.7f}\t{HOME[2]:.2f}\t1"]
    rows.append(f"1\t0\t3\t22\t0\t0\t0\t0\t{HOME[0]:.7f}\t{HOME[1]:.7f}\t{ALT_M:.2f}\t1")
    for north, east in points:
        lat, lon = _at(north, east)
        rows.append(f"{len(rows)}\t0\t3\t16\t0\t0\t0\t0\t{lat:.7f}\t{lon:.7f}\t{ALT_M:.2f}\t1")
    rows.append(f"{len(rows)}\t0\t2\t20\t0\t0\t0\t0\t0\t0\t0\t1")
    return ("QGC WPL 110\n" + "\n".join(rows) + "\n").encode()


def _times_ms(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def _parse_and_check(data: bytes) -> None:
    check_feasible(parse_mission_file(data))


def run(quick: bool = False) -> None:
    runs = 3 if quick else 9
    points = survey(ITEMS - 2)
    files = {".plan": plan_file(points), ".waypoints": wpl_file(points)}
    print(f"missions: {ITEMS:,}-item survey mission, median / worst of {runs} runs")
    for kind, data in files.items():
        parsed: MissionFile = parse_mission_file(data)
        assert len(parsed.mission) == ITEMS, len(parsed.mission)
        check_feasible(parsed)  # it flies: a refusal would stop at its item, early
        fence = f", fence of {len(parsed.fence)} items" if parsed.fence else ""
        parse = _times_ms(runs, partial(parse_mission_file, data))
        check = _times_ms(runs, partial(check_feasible, parsed))
        both = _times_ms(runs, partial(_parse_and_check, data))
        print(
            f"  {kind:<11} {len(data) / 1e6:4.1f} MB{fence}:"
            f" parse {parse[0]:.0f} / {parse[1]:.0f} ms,"
            f" check {check[0]:.0f} / {check[1]:.0f} ms,"
            f" both {both[0]:.0f} / {both[1]:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.missions", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 9")
    run(parser.parse_args().quick)


if __name__ == "__main__":
    main()
