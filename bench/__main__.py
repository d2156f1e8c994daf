"""``python -m bench [--quick] [--only NAME ...]``: print the figures of gosd's parts."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from bench import (
    agent_video,
    api_load,
    blob_transfer,
    dispatch_latency,
    dock,
    fleet_load,
    flight,
    live_relay,
    live_video,
    mavsdk_drone,
    mission_verdicts,
    missions,
    sim_speed,
)
from bench.server import gosd_server

BENCHES = (
    "api",
    "blob",
    "fleet",
    "dispatch",
    "sim",
    "mavsdk",
    "flight",
    "missions",
    "live_relay",
    "live_video",
    "video",
    "dock",
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: fewer requests, a 50 MiB blob, one small fleet, 30 jobs",
    )
    parser.add_argument(
        "--only", action="append", choices=BENCHES, help="run only these (repeatable)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        help="seconds of wrk load per API route (default 8, 3 with --quick)",
    )
    parser.add_argument(
        "--live-minutes",
        type=float,
        help="minutes of capture-to-viewer latency in live_video (default 2, 0.5 with "
        "--quick; 30 for the drift figure)",
    )
    parser.add_argument(
        "--server-src",
        type=Path,
        metavar="DIR",
        help="run gosd (server, CLI, agents) from the checkout in DIR, e.g. another commit's "
        "worktree, so both are measured by this same bench",
    )
    args = parser.parse_args()
    if args.server_src is not None:
        _run_gosd_from(args.server_src)
    chosen = set(args.only or BENCHES)
    if "api" in chosen:
        seconds = args.seconds or (3.0 if args.quick else 8.0)
        with gosd_server() as server:
            asyncio.run(api_load.run(server, seconds=seconds, requests=500 if args.quick else 3000))
    if "blob" in chosen:
        with gosd_server() as server:
            blob_transfer.run(server, megabytes=50 if args.quick else 200)
    if "fleet" in chosen:
        asyncio.run(fleet_load.run(fleet_load.QUICK if args.quick else fleet_load.FULL))
    if "dispatch" in chosen:
        asyncio.run(dispatch_latency.run(jobs=30 if args.quick else 200))
    if "sim" in chosen:
        asyncio.run(sim_speed.run(args.quick))
    if "mavsdk" in chosen:
        asyncio.run(mavsdk_drone.connect_to_ready(3 if args.quick else 7))
        for loss in (0.0, 0.05):
            asyncio.run(mavsdk_drone.upload(500, 1 if args.quick else 3, loss))
    if "flight" in chosen:
        asyncio.run(flight.run(quick=args.quick))
    if "live_relay" in chosen:
        live_relay.main(quick=args.quick)
    if "dock" in chosen:
        asyncio.run(dock.run(args.quick))
    if "missions" in chosen:
        missions.run(args.quick)
        mission_verdicts.run()
    if "live_video" in chosen:
        asyncio.run(live_video.run(args.quick, args.live_minutes))
    if "video" in chosen:
        asyncio.run(agent_video.run(args.quick))


def _run_gosd_from(source: Path) -> None:
    """Child processes import ``control_plane`` (etc.) from ``source`` first.

    ``python -m`` puts the working directory first on a child's path, then
    ``PYTHONPATH``, then the installed (editable) distribution: so both are set. The
    bench's own modules are imported already, from this checkout.
    """
    source = source.resolve()
    if not (source / "control_plane" / "__init__.py").is_file():
        raise SystemExit(f"bench: {source} is not a gosd checkout (no control_plane/)")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(source), os.environ.get("PYTHONPATH", "")) if p
    )
    os.chdir(source)
    print(f"gosd runs from {source}")


if __name__ == "__main__":
    main()
