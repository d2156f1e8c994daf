"""N simulated vehicles in one process and one asyncio loop, on one simulation clock.

Simulated time runs at ``speedup`` times wall time: every loop tick converts the wall
time elapsed into whole physics steps (``physics_hz`` of simulated time, 50 Hz by
default) and then lets each endpoint send what is due on the wall clock. When a tick
cannot keep up, steps are capped so the loop stays responsive and the fleet falls
behind (``stats.lag_s`` grows): that is how the benchmark finds a core's capacity.

Usable from tests as ``async with SimFleet(...) as fleet`` (free ports, fast clock) and
from ``gosd sim`` through ``run()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from simulator import geo
from simulator.camera import Camera, CameraServer, CameraSettings, ViewState
from simulator.depot import DockModel, DockServer, Mechanics
from simulator.faults import Faults
from simulator.flight_log import FlightLog
from simulator.mavlink_endpoint import VehicleEndpoint
from simulator.params import ParamTable
from simulator.vehicle import Vehicle

DEFAULT_HOME = (47.397742, 8.545594, 488.0)
"""PX4 SITL's default home (Zurich), degrees and metres AMSL."""
SPACING_M = 4.0
"""Vehicles start in a row this far apart (north of each other)."""
EMPTY_DOCK_EAST_M = 20.0
"""A dock with no vehicle assigned stands this far east of home (times its index + 1)."""
TICK_S = 0.01
"""Wall seconds between loop ticks."""
MAX_CATCH_UP_S = 0.25
"""Most wall time one tick may try to simulate; beyond it the fleet falls behind."""
MAX_STEPS_PER_TICK = 500
"""Most physics steps one tick runs per vehicle (so a huge speed-up cannot stall the loop)."""
LAG_WARNING_S = 1.0
"""Simulated seconds of lag that earn a warning (at most one per ``LAG_WARNING_EVERY_S``)."""
LAG_WARNING_EVERY_S = 10.0

log = logging.getLogger(__name__)


@dataclass
class FleetStats:
    """How well the loop keeps up."""

    ticks: int = 0
    steps: int = 0
    """Physics steps per vehicle so far."""
    sim_time_s: float = 0.0
    wall_time_s: float = 0.0
    lag_s: float = 0.0
    """Simulated seconds the fleet is behind ``wall * speedup``."""
    max_tick_s: float = 0.0
    """Longest wall time a tick's work took."""

    @property
    def realtime_factor(self) -> float:
        return self.sim_time_s / self.wall_time_s if self.wall_time_s > 0 else 0.0


class SimFleet:
    """The vehicles, their links and the clock that drives them."""

    def __init__(
        self,
        count: int,
        *,
        base_port: int = 14540,
        target_host: str = "127.0.0.1",
        speedup: float = 1.0,
        home: tuple[float, float, float] = DEFAULT_HOME,
        bind_host: str = "127.0.0.1",
        local_base_port: int = 0,
        physics_hz: float = 50.0,
        params: dict[str, float] | None = None,
        cameras: CameraSettings | None = None,
        camera_port: int = 0,
        docks: int = 0,
        dock_base_port: int = 0,
        dock_vehicles: dict[int, int] | None = None,
        dock_mechanics: Mechanics | None = None,
    ) -> None:
        """``cameras``: give each vehicle a synthetic camera, served over HTTP on
        ``camera_port`` (0: any free port) at ``camera_url(i)``; None (the default): no
        video, as most tests want.

        ``docks`` simulated docks (none by default), dock ``i`` a Modbus TCP server on
        127.0.0.1:``dock_base_port + i`` (0: free ports). ``dock_vehicles`` maps a dock to
        the vehicle standing in it (default: dock i holds vehicle i where there is one):
        that vehicle starts on the dock's pad, which is its home."""
        if count < 1:
            raise ValueError("a fleet has at least one vehicle")
        if not (math.isfinite(speedup) and speedup > 0):
            raise ValueError("speedup must be a positive number")
        if not (-90 <= home[0] <= 90 and -180 <= home[1] <= 180):
            raise ValueError("home must be a latitude/longitude in degrees")
        if not (base_port >= 1 and base_port + count - 1 <= 65535):
            raise ValueError("ports out of range")
        self.count = count
        self.base_port = base_port
        self.target_host = target_host
        self.speedup = speedup
        self.bind_host = bind_host
        self.local_base_port = local_base_port
        self.dt_s = 1.0 / physics_hz
        """Simulated seconds per physics step."""
        self.stats = FleetStats()
        self.vehicles: list[Vehicle] = []
        self.faults: list[Faults] = []
        self.endpoints: list[VehicleEndpoint] = []
        self.logs: list[FlightLog] = []
        for i in range(count):
            lat, lon = geo.moved(home[0], home[1], SPACING_M * i, 0.0)
            vehicle = Vehicle(ParamTable(params), lat, lon, home[2])
            self.vehicles.append(vehicle)
            self.faults.append(Faults(vehicle))
            self.logs.append(FlightLog(vehicle))
        self.camera_server: CameraServer | None = None
        if cameras is not None:
            self.camera_server = CameraServer(
                [Camera(_view_of(v), cameras) for v in self.vehicles],
                host=bind_host,
                port=camera_port,
            )
        if docks < 0 or not 0 <= dock_base_port <= 65535 - docks:
            raise ValueError("docks must be >= 0 and their ports within 1..65535")
        if dock_vehicles is None:
            dock_vehicles = {i: i for i in range(min(docks, count))}
        if any(not (0 <= d < docks and 0 <= v < count) for d, v in dock_vehicles.items()):
            raise ValueError("dock_vehicles maps a dock 0..docks-1 to a vehicle 0..count-1")
        if len(set(dock_vehicles.values())) != len(dock_vehicles):
            raise ValueError("a vehicle stands in one dock at most")
        self.dock_base_port = dock_base_port
        self.docks: list[DockModel] = []
        for d in range(docks):
            v = dock_vehicles.get(d)
            if v is not None:
                vehicle = self.vehicles[v]
                pad = (vehicle.lat_deg, vehicle.lon_deg)
            else:
                pad = geo.moved(home[0], home[1], 0.0, EMPTY_DOCK_EAST_M * (d + 1))
            self.docks.append(
                DockModel(
                    pad[0],
                    pad[1],
                    vehicle=None if v is None else self.vehicles[v],
                    mechanics=dock_mechanics or Mechanics(),
                )
            )
        self.dock_vehicles = dict(dock_vehicles)
        self.dock_servers: list[DockServer] = []
        self._stack: contextlib.AsyncExitStack | None = None
        self._runner: asyncio.Task[None] | None = None

    def url(self, index: int) -> str:
        """The MAVSDK connection URL for vehicle ``index``."""
        return f"udpin://0.0.0.0:{self.base_port + index}"

    def camera_url(self, index: int) -> str:
        """The HTTP MPEG-TS URL of vehicle ``index``'s camera (the fleet must have cameras)."""
        if self.camera_server is None:
            raise RuntimeError("this fleet has no cameras")
        return self.camera_server.url(index)

    def dock_address(self, index: int) -> tuple[str, int]:
        """Where dock ``index``'s Modbus TCP server listens (after the fleet started)."""
        server = self.dock_servers[index]
        return server.host, server.port

    async def _open_docks(self) -> None:
        for d, model in enumerate(self.docks):
            port = self.dock_base_port + d if self.dock_base_port else 0
            server = DockServer(model, port)
            self.dock_servers.append(server)
            await server.start()

    async def _close_docks(self) -> None:
        for server in self.dock_servers:
            await server.stop()
        self.dock_servers.clear()

    async def _open(self) -> None:
        if self.camera_server is not None:
            await self.camera_server.start()
        loop = asyncio.get_running_loop()
        # Resolved once here: a name that does not resolve fails the start (OSError), not
        # every send of the running loop.
        infos = await loop.getaddrinfo(
            self.target_host, None, family=socket.AF_INET, type=socket.SOCK_DGRAM
        )
        target_ip = str(infos[0][4][0])
        for i, (vehicle, faults) in enumerate(zip(self.vehicles, self.faults, strict=True)):
            endpoint = VehicleEndpoint(vehicle, faults, (target_ip, self.base_port + i), uid=i)
            local_port = self.local_base_port + i if self.local_base_port else 0
            await loop.create_datagram_endpoint(
                _same(endpoint), local_addr=(self.bind_host, local_port)
            )
            self.endpoints.append(endpoint)

    async def _close_cameras(self) -> None:
        if self.camera_server is not None:
            await self.camera_server.close()

    def _close(self) -> None:
        for endpoint in self.endpoints:
            if endpoint.transport is not None:
                endpoint.transport.close()
        self.endpoints.clear()

    async def run(self) -> None:
        """Open the sockets and simulate until cancelled; sockets closed in ``finally``."""
        try:
            await self._open()
            await self._open_docks()
            await self._loop()
        finally:
            self._close()
            await self._close_docks()
            await self._close_cameras()

    async def _loop(self) -> None:
        start = last = time.monotonic()
        carry_s = 0.0
        stats = self.stats
        warned_lag_s, warned_at = 0.0, -math.inf
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            wall_dt = now - last
            last = now
            wanted_s = min(wall_dt, MAX_CATCH_UP_S) * self.speedup + carry_s
            steps = int(wanted_s / self.dt_s)
            carry_s = wanted_s - steps * self.dt_s
            if steps > MAX_STEPS_PER_TICK:
                steps, carry_s = MAX_STEPS_PER_TICK, 0.0
            dt = self.dt_s
            for vehicle in self.vehicles:
                step = vehicle.step
                for _ in range(steps):
                    step(dt)
            for dock in self.docks:
                dock_step = dock.step
                for _ in range(steps):
                    dock_step(dt)
            for flight_log in self.logs:
                flight_log.record()
            for endpoint in self.endpoints:
                endpoint.tick()
            stats.ticks += 1
            stats.steps += steps
            stats.sim_time_s += steps * dt
            stats.wall_time_s = now - start
            stats.lag_s = max(0.0, stats.wall_time_s * self.speedup - stats.sim_time_s)
            stats.max_tick_s = max(stats.max_tick_s, time.monotonic() - now)
            if stats.lag_s - warned_lag_s > LAG_WARNING_S and now - warned_at > LAG_WARNING_EVERY_S:
                warned_lag_s, warned_at = stats.lag_s, now
                log.warning(
                    "simulation %.1f s behind wall x %g: too many vehicles or too high a speed-up",
                    stats.lag_s, self.speedup,
                )  # fmt: skip

    async def __aenter__(self) -> SimFleet:
        try:
            await self._open()  # a port in use raises OSError here
            await self._open_docks()
        except BaseException:
            self._close()
            await self._close_docks()
            await self._close_cameras()
            raise
        stack = contextlib.AsyncExitStack()
        stack.push_async_callback(self._close_cameras)
        stack.push_async_callback(self._close_docks)
        stack.callback(self._close)
        group = await stack.enter_async_context(asyncio.TaskGroup())
        self._runner = group.create_task(self._loop(), name="sim-fleet")
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            self._runner.cancel()
        if self._stack is not None:
            await self._stack.aclose()  # the body's own exception propagates unwrapped


def _view_of(vehicle: Vehicle) -> Callable[[], ViewState]:
    """What a vehicle's camera shows (read from the encoder's thread: attribute reads only)."""
    return lambda: ViewState(
        vehicle.lat_deg, vehicle.lon_deg, vehicle.height_m, vehicle.heading_deg
    )


def _same(endpoint: VehicleEndpoint) -> Callable[[], VehicleEndpoint]:
    """The protocol factory asyncio wants, for an endpoint that already exists."""
    return lambda: endpoint
