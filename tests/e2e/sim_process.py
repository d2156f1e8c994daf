"""``gosd sim`` as its own process, with its fault-control socket, for end-to-end tests.

The vehicles run the way an operator runs them, so a test drives the system only
through what a real deployment has: the HTTP API, the broker, the agent and MAVLink.
The control socket is the one window into the vehicle: its true state (landed?
disarmed? where?) and the faults a test injects.
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from simulator import control
from tests.brokers import free_port
from tests.support import stop_process, until

HOME = (47.397742, 8.545594, 488.0)
"""Vehicle 0's home: PX4 SITL's default, where ``../shared/missions`` files fly."""


def free_udp_ports(count: int) -> int:
    """The first of ``count`` consecutive UDP ports free right now (never PX4's 14540)."""
    for _ in range(200):
        first = random.randrange(20_000, 60_000)  # noqa: S311 - a port, not a secret
        socks: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("0.0.0.0", port))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise OSError(f"no {count} consecutive free UDP ports")


class SimProcess:
    """``gosd sim --vehicles N`` on free ports; ``close()`` stops it by its PID."""

    def __init__(
        self, root: Path, vehicles: int, *, speedup: float, home: tuple[float, float, float] = HOME
    ) -> None:
        self.vehicles = vehicles
        self.home = home
        self.speedup = speedup
        self.base_port = free_udp_ports(vehicles)
        self.control_port = free_port()
        self.log = root / "sim.log"
        self.process: subprocess.Popen[bytes] | None = None

    def connection(self, vehicle: int) -> str:
        """The MAVSDK URL an agent flies vehicle ``vehicle`` with."""
        return f"udpin://0.0.0.0:{self.base_port + vehicle}"

    def _spawn(self) -> None:
        lat, lon, alt = self.home
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "gosd", "sim", "--vehicles", str(self.vehicles)),
                    *("--base-port", str(self.base_port), "--speedup", str(self.speedup)),
                    *("--home", f"{lat},{lon},{alt}", "--control", str(self.control_port)),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def start(self) -> None:
        self._spawn()

        async def answers() -> bool:
            assert self.process is not None and self.process.poll() is None, self.text()
            try:
                await self.status(0)
            except OSError:
                return False
            return True

        await until(answers, "gosd sim answers on its control socket", within=20)

    async def request(self, vehicle: int, fault: str, value: Any = None) -> dict[str, Any]:
        answer = await control.request(
            self.control_port, {"vehicle": vehicle, "fault": fault, "value": value}
        )
        assert answer["ok"], answer
        return answer

    async def status(self, vehicle: int) -> dict[str, Any]:
        """The vehicle's true state (``armed``, ``mode``, ``landed_state``, position...)."""
        state: dict[str, Any] = (await self.request(vehicle, "status"))["state"]
        return state

    async def wait(self, vehicle: int, what: str, check: Any, within: float = 60) -> dict[str, Any]:
        """Poll the vehicle's state until ``check(state)`` holds; answers that state."""

        async def probe() -> dict[str, Any] | None:
            state = await self.status(vehicle)
            return state if check(state) else None

        return await until(probe, f"vehicle {vehicle}: {what}", within)

    def text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def close(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
