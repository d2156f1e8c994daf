"""The depot driver against simulated docks over real Modbus TCP (pymodbus on both ends).

The docks run in a ``SimFleet`` at a speed-up, so the cover's 12 simulated seconds take
a fraction of a second; every wait is on a condition.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from edge_agent.drivers import load_driver
from edge_agent.drivers.base import DriverError
from edge_agent.drivers.depot import DepotDriver
from shared.errors import JobFailure, RpcErrorCode
from shared.messages import DepotStatus, JobSpec, Progress
from simulator.depot import DockModel
from simulator.fleet import SimFleet
from tests.brokers import free_port
from tests.support import until

pytestmark = pytest.mark.integration

SPEEDUP = 20.0


@dataclass
class Dock:
    fleet: SimFleet
    model: DockModel
    driver: DepotDriver


@pytest.fixture
async def dock() -> AsyncIterator[Dock]:
    """Dock 0 with vehicle 0 standing on its pad, and a started driver talking to it."""
    fleet = SimFleet(1, base_port=free_port(), speedup=SPEEDUP, docks=1)
    async with fleet:
        host, port = fleet.dock_address(0)
        driver = load_driver("depot", {"host": host, "port": port, "poll_period_s": 0.02})
        assert isinstance(driver, DepotDriver)
        await driver.start()
        try:
            yield Dock(fleet, fleet.docks[0], driver)
        finally:
            await driver.close()


async def test_every_command_runs_to_its_terminal_state(dock: Dock) -> None:
    d = dock.driver
    assert d.describe()["type"] == "depot"
    assert dock.model.drone is not None, "vehicle 0 stands on the dock's pad"
    steps = [
        ("cover_open", lambda s: s["cover"] == "open" and s["door"] == "open"),
        ("clamp_release", lambda s: s["clamp"] == "released" and s["fix"] is False),
        ("clamp_lock", lambda s: s["clamp"] == "locked" and s["fix"] is True),
        ("drone_power_on", lambda s: s["drone_power"] is True),
        ("drone_power_off", lambda s: s["drone_power"] is False),
        ("charge_on", lambda s: s["charger"] in ("charging", "full")),
        ("charge_off", lambda s: s["charger"] == "idle"),
        ("cover_close", lambda s: s["cover"] == "closed" and s["door"] == "closed"),
        ("reset", lambda s: s["mode"] == "idle"),
    ]
    for name, holds in steps:
        result = await d.action(name, {})
        assert result["status"] == "ok", name
        assert holds(result["state"]), (name, result["state"])
        assert d.command is not None and d.command.status == "ok" and d.command.name == name


async def test_charging_fills_the_docked_vehicles_battery(dock: Dock) -> None:
    vehicle = dock.fleet.vehicles[0]
    vehicle.set_battery(40.0)
    await dock.driver.action("charge_on", {})
    before = vehicle.battery_pct
    state = await until(
        lambda: _charge_seen(dock.driver), "the dock reports a charging current", within=5
    )
    assert 10 <= state["charge_current"] <= 20 and 14 < state["charge_voltage"] < 17
    await until(_above(vehicle, before + 0.2), "the vehicle's battery rises", within=10)


def _above(vehicle: object, pct: float):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return float(getattr(vehicle, "battery_pct")) > pct  # noqa: B009

    return probe


async def _charge_seen(driver: DepotDriver) -> dict[str, object] | None:
    await driver.poll()
    status = driver._state_dict()
    return status if status.get("charger") == "charging" else None


async def test_a_second_command_is_refused_busy_and_emergency_stop_cuts_in(dock: Dock) -> None:
    d = dock.driver
    opening = asyncio.ensure_future(d.action("cover_open", {}))
    await until(_cover(dock.model, "OPENING"), "the cover moves")
    with pytest.raises(DriverError) as busy:
        await d.action("clamp_release", {})
    assert busy.value.code is RpcErrorCode.BUSY

    # Another client (a second agent, a PLC panel) is refused by the dock itself.
    other = load_driver("depot", {"host": "127.0.0.1", "port": dock.fleet.dock_address(0)[1]})
    assert isinstance(other, DepotDriver)
    await other.start()
    try:
        with pytest.raises(DriverError) as dock_busy:
            await other.action("clamp_release", {})
        assert dock_busy.value.code is RpcErrorCode.BUSY
        assert "busy" in str(dock_busy.value)
        await other.action("emergency_stop", {})  # always goes through
    finally:
        await other.close()
    with pytest.raises(DriverError) as cut:
        await opening
    assert cut.value.code is RpcErrorCode.COMMAND_DENIED
    assert "emergency stop" in str(cut.value)
    state = await d.poll()
    assert state is not None and state.mode.name == "EMERGENCY_STOP"
    assert state.cover.name == "HALF_OPEN", "stopped mid-travel: half open, never open"
    assert d.status().door == "half_open"
    result = await d.action("reset", {})
    assert result["state"]["mode"] == "idle"


def _cover(model: DockModel, name: str):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return model.cover.name == name

    return probe


async def test_cover_jam_fails_with_the_reason_and_reset_needs_the_fault_cleared(
    dock: Dock,
) -> None:
    dock.model.apply_fault("cover-jam", "on")
    with pytest.raises(DriverError) as jam:
        await dock.driver.action("cover_open", {})
    assert jam.value.code is RpcErrorCode.COMMAND_DENIED
    assert "cover_jam" in str(jam.value)
    status = dock.driver.status()
    assert status.status == "error" and status.error == "cover_jam" and status.door == "fault"
    with pytest.raises(DriverError) as refused:
        await dock.driver.action("cover_close", {})
    assert "in_error" in str(refused.value)
    dock.model.apply_fault("cover-jam", "off")
    await dock.driver.action("reset", {})
    assert dock.driver.status().door == "half_open"
    await dock.driver.action("cover_close", {})
    assert dock.driver.status().cover == "closed"


async def test_a_half_open_cover_is_never_reported_open(dock: Dock) -> None:
    dock.model.apply_fault("half-open", "on")
    seen: set[str] = set()

    async def watch() -> None:
        # What the node publishes (msg/depot_status) while the cover moves.
        async for sample in dock.driver.telemetry():
            status = sample.value
            assert isinstance(status, DepotStatus)
            if status.cover is not None:
                seen.add(status.cover.upper())

    watcher = asyncio.ensure_future(watch())
    try:
        with pytest.raises(DriverError) as half:
            await dock.driver.action("cover_open", {})
    finally:
        watcher.cancel()
    state = await dock.driver.poll()
    assert state is not None
    seen.add(state.cover.name)
    assert "cover_half_open" in str(half.value)
    assert "OPEN" not in seen and "HALF_OPEN" in seen
    assert dock.driver.status().door == "half_open"


async def test_rain_closes_the_open_cover_over_the_drone(dock: Dock) -> None:
    await dock.driver.action("cover_open", {})
    dock.model.apply_fault("rain", 2)
    state = await until(_polled(dock.driver, "closed"), "the dock closes its cover in the rain")
    assert state.rain.name == "MODERATE"
    with pytest.raises(DriverError) as refused:
        await dock.driver.action("cover_open", {})
    assert "rain" in str(refused.value)


def _polled(driver: DepotDriver, cover: str):  # type: ignore[no-untyped-def]
    async def probe():  # type: ignore[no-untyped-def]
        state = await driver.poll()
        return state if state is not None and state.cover.name.lower() == cover else None

    return probe


async def test_the_cover_stays_open_over_an_empty_pad_while_a_flight_is_under_way(
    dock: Dock,
) -> None:
    d = dock.driver
    await d.action("cover_open", {})
    await d.action("flight_start", {})
    dock.fleet.vehicles[0].lat_deg += 0.001  # the drone is away (100 m north)
    await until(_absent(d), "the pad sensor sees the drone gone")
    with pytest.raises(DriverError) as refused:
        await d.action("cover_close", {})
    assert "flight_under_way" in str(refused.value)
    dock.model.apply_fault("rain", 3)  # rain does not close it over the empty pad either
    await d.poll()
    assert d.status().cover == "open"
    dock.fleet.vehicles[0].lat_deg -= 0.001  # back on the pad: the rain rule closes it
    await until(_polled(d, "closed"), "the cover closes over the returned drone")


def _absent(driver: DepotDriver):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        state = await driver.poll()
        return state is not None and not state.drone_present

    return probe


@pytest.mark.parametrize(
    ("address", "raw", "words"),
    [
        (3, 9, "cover (address 3) is 9"),
        (0, 7, "register map version 7"),
        (7, 5999, "charge_voltage 59.99 V is above"),
        (16, 0x7000, "temperature (address 16)"),
        (18, 200, "error_code (address 18) is 200"),
    ],
)
async def test_malformed_registers_are_a_dock_error_never_trusted(
    dock: Dock, address: int, raw: int, words: str
) -> None:
    dock.model.apply_fault("register", f"{address}={raw}")
    await dock.driver.poll()
    status = dock.driver.status()
    assert status.status == "error" and status.door is None and status.cover is None
    assert words in (status.detail or ""), status.detail
    with pytest.raises(DriverError) as refused:
        await dock.driver.action("cover_open", {})
    assert refused.value.code is RpcErrorCode.DOCK_ERROR
    assert dock.model.cover.name == "CLOSED", "nothing moved"
    dock.model.apply_fault("register", f"{address}=off")
    assert await dock.driver.poll() is not None


async def test_a_stale_heartbeat_is_a_dead_plc() -> None:
    fleet = SimFleet(1, base_port=free_port(), speedup=SPEEDUP, docks=1)
    async with fleet:
        port = fleet.dock_address(0)[1]
        driver = load_driver("depot", {"port": port, "heartbeat_timeout_s": 1.0})
        assert isinstance(driver, DepotDriver)
        await driver.start()
        try:
            fleet.docks[0].apply_fault("register", "1=42")
            await until(_fault(driver, "heartbeat_stale"), "the stuck heartbeat is noticed")
            assert "stayed at 42" in (driver.status().detail or "")
        finally:
            await driver.close()


async def test_an_unreachable_dock_is_a_dock_error() -> None:
    driver = load_driver("depot", {"port": free_port(), "request_timeout_s": 0.2})
    assert isinstance(driver, DepotDriver)
    await driver.start()
    try:
        assert driver.status().error == "dock_unreachable"
        with pytest.raises(DriverError) as refused:
            await driver.action("cover_open", {})
        assert refused.value.code is RpcErrorCode.DOCK_ERROR
    finally:
        await driver.close()


def _fault(driver: DepotDriver, code: str):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        await driver.poll()
        return driver.fault is not None and driver.fault.code == code

    return probe


async def test_a_job_runs_its_dock_actions_one_progress_event_each(dock: Dock) -> None:
    job = JobSpec(plan_id=1, job_id=1, extra={"dock_actions": "cover_open, clamp_release"})
    await dock.driver.prepare(job, {})
    events: list[Progress] = []

    async def report(progress: Progress) -> None:
        events.append(progress)

    await dock.driver.run(job, report)
    assert [(e.current, e.total, e.stage) for e in events] == [
        (1, 2, "cover_open"),
        (2, 2, "clamp_release"),
    ]
    assert dock.model.cover.name == "OPEN" and dock.model.clamp.name == "RELEASED"


async def test_a_failing_job_step_names_the_step_and_the_dock_state(dock: Dock) -> None:
    dock.model.apply_fault("cover-jam", "on")
    job = JobSpec(plan_id=1, job_id=2, extra={"dock_actions": "clamp_release,cover_open"})
    with pytest.raises(DriverError) as failed:
        await dock.driver.run(job, _ignore)
    assert failed.value.code is JobFailure.DOCK_ERROR
    text = str(failed.value)
    assert "step 2/2 cover_open" in text and "cover_jam" in text and "cover fault" in text


async def _ignore(progress: Progress) -> None:
    return None


@pytest.mark.parametrize(
    "extra",
    [{}, {"dock_actions": ""}, {"dock_actions": "cover_open,rm -rf"}, {"dock_actions": "x," * 30}],
)
async def test_a_job_with_bad_dock_actions_is_invalid(dock: Dock, extra: dict[str, str]) -> None:
    with pytest.raises(DriverError) as invalid:
        await dock.driver.prepare(JobSpec(plan_id=1, job_id=3, extra=extra), {})
    assert invalid.value.code is JobFailure.INVALID_JOB
