"""``python -m bench.mavsdk_drone [--connects N] [--items N]``: the drone driver's MAVSDK costs.

Prints, against the simulator (in this process, real UDP on free ports, real time):

- connect-to-ready: from a new MAVSDK connection to "discovered" (the autopilot's first
  heartbeat) and to "ready" (home, 3D fix, armable, battery: what preflight needs),
  p50 and max over several connects, each on a fresh vehicle and port;
- the upload of a mission of ``--items`` waypoints through MissionRaw (the path a job
  takes), on a clean link and with 5 % packet loss each way (MAVSDK re-requests items).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import socket
import time

from bench.server import free_port
from bench.stats import percentile
from edge_agent.drivers.mavsdk_drone import MavsdkVehicle
from edge_agent.drivers.vehicle import VehicleCommandError
from shared.mission import MissionItem
from simulator.fleet import DEFAULT_HOME, SimFleet


def _mission(count: int) -> list[MissionItem]:
    """A takeoff, then waypoints on a 10 m grid east of home (relative altitude)."""
    lat0, lon0, _ = DEFAULT_HOME
    metres_per_deg_lon = 111_320.0 * math.cos(math.radians(lat0))
    items = []
    for seq in range(count):
        east_m = 10.0 * (seq % 50)
        north_m = 10.0 * (seq // 50)
        items.append(
            MissionItem(
                seq=seq,
                frame=3,
                command=22 if seq == 0 else 16,
                current=1 if seq == 0 else 0,
                autocontinue=1,
                param1=0.0,
                param2=0.0,
                param3=0.0,
                param4=0.0,
                x=round((lat0 + north_m / 111_320.0) * 1e7),
                y=round((lon0 + east_m / metres_per_deg_lon) * 1e7),
                z=20.0,
                mission_type=0,
            )
        )
    return items


async def _until(vehicle: MavsdkVehicle, ready: bool, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        s = vehicle.state
        if (s.discovered and not ready) or (
            s.connected and s.home_set and s.armable and s.gps_fix >= 3 and s.battery_pct > 0
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the vehicle did not get ready")
        await vehicle.changed(0.05)


async def connect_to_ready(connects: int) -> None:
    discovered: list[float] = []
    ready: list[float] = []
    for _ in range(connects):
        port = free_port("127.0.0.1", socket.SOCK_DGRAM)
        async with SimFleet(1, base_port=port, speedup=1.0) as fleet:
            vehicle = MavsdkVehicle(fleet.url(0))
            start = time.perf_counter()
            try:
                await vehicle.open(0.0)
                await _until(vehicle, ready=False, timeout_s=15)
                discovered.append(time.perf_counter() - start)
                await _until(vehicle, ready=True, timeout_s=15)
                ready.append(time.perf_counter() - start)
            finally:
                await vehicle.close()
    print(f"MAVSDK connect over {connects} fresh connections (simulator, real time):")
    for name, values in (("discovered", discovered), ("ready for preflight", ready)):
        print(
            f"  {name:<20} p50 {percentile(values, 50) * 1000:7.1f} ms"
            f"   max {max(values) * 1000:7.1f} ms"
        )


async def upload(count: int, repeats: int, loss: float) -> None:
    items = _mission(count)
    async with SimFleet(
        1, base_port=free_port("127.0.0.1", socket.SOCK_DGRAM), speedup=1.0
    ) as fleet:
        fleet.faults[0].set_packet_loss(loss)
        vehicle = MavsdkVehicle(fleet.url(0), command_timeout_s=120.0)
        try:
            await vehicle.open(10.0)
            times: list[float] = []
            failed: list[str] = []
            for _ in range(repeats):
                start = time.perf_counter()
                try:
                    await vehicle.upload_mission(items)
                except VehicleCommandError as exc:  # MAVSDK's retries ran out: a figure too
                    failed.append(f"{exc} after {time.perf_counter() - start:.1f} s")
                    continue
                times.append(time.perf_counter() - start)
        finally:
            await vehicle.close()
    print(f"MissionRaw upload of {count} items, {repeats} times, {loss:.0%} packet loss:")
    if times:
        print(
            f"  p50 {percentile(times, 50):6.2f} s   max {max(times):6.2f} s"
            f"   ({count / percentile(times, 50):.0f} items/s)"
        )
    for failure in failed:
        print(f"  failed: {failure} (the driver tries such an upload again)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mavsdk_drone", description=__doc__)
    parser.add_argument("--connects", type=int, default=7, help="fresh connections to time")
    parser.add_argument("--items", type=int, default=500, help="mission items to upload")
    parser.add_argument("--repeats", type=int, default=3, help="uploads to time")
    args = parser.parse_args()
    asyncio.run(connect_to_ready(args.connects))
    for loss in (0.0, 0.05):
        asyncio.run(upload(args.items, args.repeats, loss))


if __name__ == "__main__":
    main()
