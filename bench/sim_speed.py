"""Simulator speed: ``python -m bench.sim_speed [--quick]`` prints three figures.

1. Real-time factor of one vehicle flying a ~2 km survey (a lawnmower of many waypoints,
   uploaded over the MAVLink mission protocol by a bare pymavlink GCS, armed and started
   with COMMAND_LONG) at ``--speedup 20``: simulated seconds of flight per wall second.
2. CPU per simulated vehicle at speedup 1: process CPU time / wall time / vehicles, every
   vehicle flying a mission and streaming its default telemetry to a socket.
3. How many vehicles one core sustains at speedup 1: N grows until the loop falls behind
   its physics (real-time factor under 0.97) or its message rates slip (under 95 % of
   the configured rates).

Everything runs in this process on one asyncio loop, as ``gosd sim`` does; the figures
are for this machine with whatever else is running on it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import socket
import time
from collections.abc import Iterator
from itertools import pairwise

from pymavlink.dialects.v20 import common as mavlink

from simulator import geo
from simulator.fleet import DEFAULT_HOME, SimFleet
from simulator.mavlink_endpoint import DEFAULT_INTERVALS_S
from simulator.mission_items import MissionItem, MissionType
from simulator.vehicle import MissionState

EXPECTED_MSG_S = sum(1 / interval for interval in DEFAULT_INTERVALS_S.values())
"""Messages per second one vehicle streams by default."""


def survey(
    legs: int = 10, leg_m: float = 180.0, spacing_m: float = 20.0
) -> list[tuple[float, float]]:
    """A lawnmower of ``legs`` legs with a waypoint every 20 m: (north, east) metres."""
    points = []
    for leg in range(legs):
        east = leg * spacing_m
        norths = [i * 20.0 for i in range(int(leg_m / 20) + 1)]
        for north in norths if leg % 2 == 0 else reversed(norths):
            points.append((north, east))
    return points


def _items(points: list[tuple[float, float]], alt_m: float = 30) -> list[MissionItem]:
    # the takeoff at home: at 0/0, PX4 (and the simulator) would find it 5,000 km away
    home_x, home_y = round(DEFAULT_HOME[0] * 1e7), round(DEFAULT_HOME[1] * 1e7)
    items = [MissionItem(0, 6, 22, 0, 1, 0, 0, 0, 0, home_x, home_y, alt_m)]
    for north, east in points:
        lat, lon = geo.moved(DEFAULT_HOME[0], DEFAULT_HOME[1], north, east)
        items.append(
            MissionItem(
                len(items), 6, 16, 0, 1, 0, 0, 0, 0, round(lat * 1e7), round(lon * 1e7), alt_m
            )
        )
    return items


def _path_m(points: list[tuple[float, float]]) -> float:
    return sum(((n2 - n1) ** 2 + (e2 - e1) ** 2) ** 0.5 for (n1, e1), (n2, e2) in pairwise(points))


@contextlib.contextmanager
def sinks(count: int) -> Iterator[int]:
    """``count`` UDP sockets on consecutive free ports (where the vehicles send); the base."""
    for _ in range(50):
        base = random.randint(20_000, 60_000 - count)  # noqa: S311 - a port, not a secret
        opened: list[socket.socket] = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                opened.append(s)
                s.bind(("127.0.0.1", base + i))
        except OSError:
            for s in opened:
                s.close()
            continue
        try:
            yield base
        finally:
            for s in opened:
                s.close()
        return
    raise RuntimeError("no run of free UDP ports found")


async def survey_rtf(speedup: float) -> None:
    points = survey()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gcs_sock:
        gcs_sock.bind(("127.0.0.1", 0))
        gcs_sock.setblocking(False)
        loop = asyncio.get_running_loop()
        async with SimFleet(1, base_port=gcs_sock.getsockname()[1], speedup=speedup) as fleet:
            gcs = mavlink.MAVLink(None, 245, 190)
            parser = mavlink.MAVLink(None)
            parser.robust_parsing = True
            _, addr = await loop.sock_recvfrom(gcs_sock, 65535)  # where the vehicle is
            items = _items(points)

            def send(message: object) -> None:
                gcs_sock.sendto(message.pack(gcs), addr)  # type: ignore[attr-defined]
                gcs.seq = (gcs.seq + 1) % 256

            async def receive(kind: str) -> object:
                while True:
                    data, _ = await loop.sock_recvfrom(gcs_sock, 65535)
                    for message in parser.parse_buffer(data) or []:
                        if message.get_type() == kind:
                            return message

            started = time.monotonic()
            send(gcs.mission_count_encode(1, 1, len(items), 0))
            while True:
                message = await receive("MISSION_REQUEST_INT")
                it = items[message.seq]  # type: ignore[attr-defined]
                send(
                    gcs.mission_item_int_encode(
                        1, 1, it.seq, it.frame, it.command, 0, 1, 0, 0, 0, 0, it.x, it.y, it.z, 0
                    )
                )
                if it.seq == len(items) - 1:
                    break
            await receive("MISSION_ACK")
            upload_s = time.monotonic() - started
            send(gcs.command_long_encode(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0))
            send(gcs.command_long_encode(1, 1, 300, 0, 0, 0, 0, 0, 0, 0, 0))
            vehicle = fleet.vehicles[0]
            wall0, sim0 = time.monotonic(), vehicle.sim_time_s
            # polling the model is the measurement itself
            while vehicle.mission_state is not MissionState.COMPLETE:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            wall_s, sim_s = time.monotonic() - wall0, vehicle.sim_time_s - sim0
    print(
        f"survey: {len(items)} items, {_path_m(points) / 1000:.2f} km path, "
        f"upload {upload_s * 1000:.0f} ms ({len(items) / upload_s:.0f} items/s)"
    )
    print(
        f"  at --speedup {speedup:g}: {sim_s:.0f} s simulated in {wall_s:.1f} s wall = "
        f"real-time factor {sim_s / wall_s:.1f} (ideal {speedup:g})"
    )


def _fly_all(fleet: SimFleet) -> None:
    """Every vehicle airborne on a long mission (through the model, not the wire)."""
    points = [(i * 100.0, 0.0) for i in range(1, 60)]
    for vehicle in fleet.vehicles:
        vehicle.replace_items(MissionType.MISSION, _items(points))
        vehicle.arm()
        vehicle.start_mission()


async def measure(count: int, seconds: float) -> tuple[float, float, float, float]:
    """(CPU fraction of one core, real-time factor, messages/s per vehicle, max tick ms)."""
    with sinks(count) as base:
        async with SimFleet(count, base_port=base, speedup=1.0) as fleet:
            _fly_all(fleet)
            await asyncio.sleep(1.0)  # warm up: first heartbeats, takeoffs
            sent0 = sum(e.stats.sent for e in fleet.endpoints)
            sim0 = fleet.stats.sim_time_s
            fleet.stats.max_tick_s = 0.0
            cpu0, wall0 = time.process_time(), time.monotonic()
            await asyncio.sleep(seconds)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            sent = sum(e.stats.sent for e in fleet.endpoints) - sent0
            rtf = (fleet.stats.sim_time_s - sim0) / wall
            return cpu / wall, rtf, sent / wall / count, fleet.stats.max_tick_s * 1000


async def run(quick: bool) -> None:
    await survey_rtf(20.0)
    seconds = 3.0 if quick else 8.0
    per_vehicle_n = 10
    cpu, rtf, rate, tick_ms = await measure(per_vehicle_n, seconds)
    print(
        f"cpu per vehicle at speedup 1 ({per_vehicle_n} flying): "
        f"{cpu / per_vehicle_n * 100:.2f} % of a core (rtf {rtf:.2f}, {rate:.1f} msg/s each "
        f"of {EXPECTED_MSG_S:.1f} configured, max tick {tick_ms:.1f} ms)"
    )
    print("capacity at speedup 1 (one loop, one core):")
    print(f"  {'vehicles':>8} {'cpu %':>7} {'rtf':>6} {'msg/s/veh':>10} {'max tick ms':>12}")
    count, sustained, largest = 25, 0, 400 if quick else 3200
    while count <= largest:
        cpu, rtf, rate, tick_ms = await measure(count, seconds)
        keeps_up = rtf >= 0.97 and rate >= 0.95 * EXPECTED_MSG_S
        print(
            f"  {count:>8} {cpu * 100:>7.0f} {rtf:>6.2f} {rate:>10.1f} {tick_ms:>12.1f}"
            f"{'' if keeps_up else '  <- falls behind'}",
            flush=True,
        )
        if not keeps_up:
            break
        sustained = count
        count *= 2
    limit = f"not {count}" if count <= largest else "the largest size tried"
    print(f"  one core sustains about {sustained} vehicles ({limit})")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sim_speed", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, at most 400 vehicles")
    asyncio.run(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
