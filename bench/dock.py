"""The dock over Modbus: command round trip and state-change-to-sample latency.

A simulated dock (``SimFleet`` with one dock, real pymodbus TCP server on 127.0.0.1) and
the ``depot`` driver in one process. Figures:

- command round trip: ``DepotDriver.act`` from the call to the dock's confirmed terminal
  state (checked read, Modbus write of command + sequence, polls until ``ok``), for a
  command the dock completes on its next physics step (charge_off, its charger switch
  set to take no time), so the figure is the protocol's, not the mechanics';
- state change to telemetry sample: a fault flips the dock's state (emergency stop
  pressed) and the driver's ``telemetry()`` yields the changed ``depot_status`` (what the
  agent then publishes at once: an urgent sample);
- the simulated mechanics' times (simulated seconds), and a full cover open at speed-up 1.

The broker hop of an RPC is not in these figures: ``bench dispatch`` measures the agent's
RPC path; ``tests/integration/test_agent_depot.py`` checks the whole chain end to end.
"""

from __future__ import annotations

import asyncio
import time

from bench.stats import percentile
from edge_agent.drivers.depot import DepotDriver
from simulator.depot import Mechanics
from simulator.fleet import SimFleet

POLL_S = 0.02


async def run(quick: bool = False) -> None:
    rounds = 50 if quick else 300
    mechanics = Mechanics()
    print("dock (simulated PLC over Modbus TCP, depot driver, one process)")
    print(
        f"  mechanics (simulated s): cover travel {mechanics.cover_travel_s:g}, clamp "
        f"{mechanics.clamp_s:g}, drone power {mechanics.drone_power_s:g}, charger switch "
        f"{mechanics.charge_switch_s:g}, reset {mechanics.reset_s:g}"
    )
    # The charger switches in no time here, so a charge_off is pure protocol.
    quick_switch = Mechanics(charge_switch_s=0.0)
    fleet = SimFleet(1, base_port=_free_udp(), speedup=1.0, docks=1, dock_mechanics=quick_switch)
    async with fleet:
        port = fleet.dock_address(0)[1]
        driver = DepotDriver({"port": port, "poll_period_s": POLL_S})
        await driver.start()
        try:
            await _round_trips(driver, rounds)
            await _change_to_sample(driver, fleet, 10 if quick else 40)
            started = time.monotonic()
            await driver.act("cover_open")
            print(f"  cover_open at speed-up 1: {time.monotonic() - started:.2f} s wall")
        finally:
            await driver.close()


async def _round_trips(driver: DepotDriver, rounds: int) -> None:
    times: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        await driver.act("charge_off")
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"  command round trip (act -> Modbus write -> state confirmed), {rounds} commands: "
        f"p50 {percentile(times, 50):.1f} ms, p99 {percentile(times, 99):.1f} ms, "
        f"max {max(times):.1f} ms (poll period {POLL_S * 1000:.0f} ms, physics tick 10 ms)"
    )


async def _change_to_sample(driver: DepotDriver, fleet: SimFleet, rounds: int) -> None:
    model = fleet.docks[0]
    latencies: list[float] = []
    samples = driver.telemetry()
    try:
        for i in range(rounds):
            pressed = i % 2 == 0
            want = "emergency_stop" if pressed else "idle"
            if not pressed:
                model.apply_fault("emergency-stop", "off")
                await driver.act("reset")
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            if pressed:
                model.apply_fault("emergency-stop", "on")
            async for sample in samples:
                mode = getattr(sample.value, "mode", None)
                if mode == want and (not pressed or sample.urgent):
                    break
            if pressed:
                latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await samples.aclose()  # type: ignore[attr-defined]
    print(
        f"  state change -> depot_status sample (urgent, published at once), {len(latencies)} "
        f"changes: p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} "
        f"ms, max {max(latencies):.1f} ms"
    )


def _free_udp() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
