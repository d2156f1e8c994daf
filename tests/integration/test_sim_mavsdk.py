"""A real MAVSDK 4.1 client flies the in-process simulator as it would fly PX4 SITL.

Nothing here reaches into the simulator to make things happen: MAVSDK discovers the
vehicle, reads telemetry, arms, takes off, uploads and runs a mission and watches it
return and disarm. The fleet's own state is read only to cross-check what MAVSDK saw.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from mavsdk.asyncio import ComponentType, Configuration, Mavsdk, System
from mavsdk.asyncio.plugins.action import ActionAsync
from mavsdk.asyncio.plugins.geofence import GeofenceAsync
from mavsdk.asyncio.plugins.mission_raw import MissionRawAsync
from mavsdk.asyncio.plugins.param import ParamAsync
from mavsdk.asyncio.plugins.telemetry import TelemetryAsync
from mavsdk.plugins.action import ActionError
from mavsdk.plugins.geofence import Circle, FenceType, GeofenceData, Point
from mavsdk.plugins.mission_raw import MissionItem, MissionRawError, MissionRawResult
from mavsdk.plugins.param import ParamError
from mavsdk.plugins.telemetry import FlightMode, LandedState

from simulator import geo
from simulator.fleet import DEFAULT_HOME, SimFleet
from tests.support import until

pytestmark = pytest.mark.integration

SPEEDUP = 20.0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Drone:
    fleet: SimFleet
    system: System
    telemetry: TelemetryAsync
    action: ActionAsync
    mission: MissionRawAsync
    param: ParamAsync


@pytest.fixture
async def drone() -> AsyncIterator[Drone]:
    port = free_udp_port()
    async with SimFleet(1, base_port=port, speedup=SPEEDUP) as fleet:
        config = Configuration.create_with_component_type(ComponentType.GROUND_STATION)
        async with Mavsdk(config) as mavsdk:
            await mavsdk.add_any_connection(f"udpin://0.0.0.0:{port}")
            system = await mavsdk.first_autopilot(timeout_s=10)
            assert system is not None, "MAVSDK did not discover the simulated autopilot"
            yield Drone(
                fleet,
                system,
                TelemetryAsync(system),
                ActionAsync(system),
                MissionRawAsync(system),
                ParamAsync(system),
            )


def waypoint(
    seq: int, north_m: float, east_m: float, rel_alt_m: float, command: int = 16
) -> MissionItem:
    lat, lon = geo.moved(DEFAULT_HOME[0], DEFAULT_HOME[1], north_m, east_m)
    return MissionItem(
        seq,
        6,
        command,
        1 if seq == 0 else 0,
        1,
        0.0,
        0.0,
        0.0,
        float("nan"),
        round(lat * 1e7),
        round(lon * 1e7),
        rel_alt_m,
        0,
    )


async def test_mavsdk_sees_a_ready_px4_vehicle(drone: Drone) -> None:
    t = drone.telemetry
    health = await until(
        lambda: _armable(t), "MAVSDK reports the vehicle armable with position and home", within=10
    )
    assert health.is_global_position_ok and health.is_home_position_ok
    position = await t.position()
    assert position.latitude_deg == pytest.approx(DEFAULT_HOME[0], abs=1e-6)
    assert position.absolute_altitude_m == pytest.approx(DEFAULT_HOME[2], abs=0.1)
    battery = await t.battery()
    assert battery.remaining_percent == pytest.approx(100, abs=1)
    assert 15 < battery.voltage_v < 17
    assert await t.flight_mode() == FlightMode.HOLD
    assert await t.armed() is False
    assert await t.landed_state() == LandedState.ON_GROUND
    assert await t.in_air() is False
    home = await t.home()
    assert home.latitude_deg == pytest.approx(DEFAULT_HOME[0], abs=1e-6)


async def _armable(t: TelemetryAsync) -> object:
    health = await t.health()
    return health if health.is_armable and health.is_home_position_ok else None


async def test_arm_takeoff_to_the_takeoff_altitude_parameter_and_land(drone: Drone) -> None:
    t, a = drone.telemetry, drone.action
    await until(lambda: _armable(t), "armable")
    await a.set_takeoff_altitude(12.0)
    assert await a.get_takeoff_altitude() == pytest.approx(12.0)
    await a.arm()
    await until(t.armed, "MAVSDK sees the vehicle armed")
    await a.takeoff()
    await until(lambda: _alt_above(t, 11.5), "the vehicle climbs to 12 m", within=15)
    assert await t.in_air()
    await until(lambda: _mode_is(t, FlightMode.HOLD), "PX4 holds after takeoff")
    await a.land()
    await until(lambda: _landed_and_disarmed(t), "landed and auto-disarmed", within=20)


async def _alt_above(t: TelemetryAsync, alt_m: float) -> bool:
    return (await t.position()).relative_altitude_m > alt_m


async def _mode_is(t: TelemetryAsync, mode: FlightMode) -> bool:
    return await t.flight_mode() == mode


async def _hovering(t: TelemetryAsync) -> bool:
    """Holding in the air after the takeoff: Hold alone is also the mode on the ground
    right after arming, before the climb starts."""
    return await t.landed_state() == LandedState.IN_AIR and await _mode_is(t, FlightMode.HOLD)


async def _landed_and_disarmed(t: TelemetryAsync) -> bool:
    return await t.landed_state() == LandedState.ON_GROUND and not await t.armed()


async def test_mission_runs_item_by_item_then_returns_lands_and_disarms(drone: Drone) -> None:
    t, a, m = drone.telemetry, drone.action, drone.mission
    items = [
        waypoint(0, 0, 0, 15, command=22),
        waypoint(1, 60, 0, 20),
        waypoint(2, 60, 60, 20),
        waypoint(3, 0, 60, 20),
        MissionItem(4, 2, 20, 0, 1, 0.0, 0.0, 0.0, 0.0, 0, 0, 0.0, 0),
    ]
    await until(lambda: _armable(t), "armable")
    await m.upload_mission(items)
    downloaded = await m.download_mission()
    assert [(i.command, i.x, i.y, i.z) for i in downloaded] == [
        (i.command, i.x, i.y, i.z) for i in items
    ]

    progress: list[tuple[int, int]] = []
    modes: list[FlightMode] = []

    async def watch_progress() -> None:
        async for p in m.subscribe_mission_progress():
            progress.append((p.current, p.total))

    async def watch_modes() -> None:
        async for mode in t.subscribe_flight_mode():
            if not modes or modes[-1] != mode:
                modes.append(mode)

    async with asyncio.TaskGroup() as group:
        watchers = [group.create_task(watch_progress()), group.create_task(watch_modes())]
        await a.arm()
        await m.start_mission()
        await until(
            lambda: _mode_is(t, FlightMode.RETURN_TO_LAUNCH), "the RTL item starts RTL", within=30
        )
        await until(lambda: _landed_and_disarmed(t), "back home, landed and disarmed", within=30)
        for watcher in watchers:
            watcher.cancel()

    currents = [current for current, _ in progress]
    assert currents == sorted(currents), f"progress went backwards: {progress}"
    assert {1, 2, 3, 4} <= set(currents), f"not every item was seen: {progress}"
    assert progress[-1] == (5, 5), progress
    assert FlightMode.MISSION in modes and modes.index(FlightMode.MISSION) < modes.index(
        FlightMode.RETURN_TO_LAUNCH
    )
    assert await m.is_mission_finished()
    position, home = await t.position(), await t.home()
    assert (
        geo.distance_m(
            position.latitude_deg, position.longitude_deg, home.latitude_deg, home.longitude_deg
        )
        < 1.0
    )
    vehicle = drone.fleet.vehicles[0]
    assert vehicle.rel_alt_m == pytest.approx(0, abs=0.01)
    assert vehicle.battery_pct < 100


async def test_refusals_reach_mavsdk_as_errors(drone: Drone) -> None:
    t, a, m = drone.telemetry, drone.action, drone.mission
    await until(lambda: _armable(t), "armable")
    with pytest.raises(ActionError, match="COMMAND_DENIED"):
        await a.takeoff()  # disarmed
    drone.fleet.faults[0].set_gps_loss(True)
    await until(lambda: _not_armable(t), "MAVSDK sees the vehicle unarmable without GPS")
    with pytest.raises(ActionError, match="COMMAND_DENIED"):
        await a.arm()
    drone.fleet.faults[0].set_gps_loss(False)
    await until(lambda: _armable(t), "armable again")
    with pytest.raises(MissionRawError):
        await m.upload_mission(
            [MissionItem(0, 1, 16, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0)]
        )  # local frame
    assert drone.fleet.vehicles[0].mission == []


async def test_an_item_px4_does_not_take_is_refused_at_upload_as_unsupported(drone: Drone) -> None:
    """Sent directly (MissionRaw, no checks of ours on the way), a mission holding a
    command PX4's mission protocol does not take (LOITER_TURNS), or a terrain frame, is
    refused by the vehicle at upload; MAVSDK reports both as UNSUPPORTED."""
    m = drone.mission
    good = [waypoint(0, 0, 0, 10, command=22), waypoint(1, 40, 0, 10)]
    await m.upload_mission(good)
    turns = waypoint(2, 80, 0, 10, command=18)
    with pytest.raises(MissionRawError, match="UNSUPPORTED") as refused:
        await m.upload_mission([*good, turns])
    assert refused.value.result is MissionRawResult.UNSUPPORTED
    terrain = waypoint(2, 80, 0, 10)
    terrain.frame = 11  # MAV_FRAME_GLOBAL_TERRAIN_ALT_INT
    with pytest.raises(MissionRawError, match="UNSUPPORTED"):
        await m.upload_mission([*good, terrain])
    assert [i.command for i in drone.fleet.vehicles[0].mission] == [22, 16]  # the old one


async def _not_armable(t: TelemetryAsync) -> bool:
    return not (await t.health()).is_armable


async def test_params_through_mavsdk_int32_and_float(drone: Drone) -> None:
    p = drone.param
    assert await p.get_param_int("COM_DL_LOSS_T") == 10
    assert await p.get_param_int("SYS_AUTOSTART") == 4001
    await p.set_param_int("NAV_DLL_ACT", 2)
    assert await p.get_param_int("NAV_DLL_ACT") == 2
    assert drone.fleet.vehicles[0].params["NAV_DLL_ACT"] == 2
    await p.set_param_float("RTL_RETURN_ALT", 35.0)
    assert await drone.action.get_return_to_launch_altitude() == pytest.approx(35.0)
    with pytest.raises(ParamError):
        await p.get_param_int("NO_SUCH_PARAM")
    everything = await p.get_all_params()
    ints = {param.name: param.value for param in everything.int_params}
    floats = {param.name: param.value for param in everything.float_params}
    assert ints["NAV_DLL_ACT"] == 2 and ints["BAT_N_CELLS"] == 4
    assert floats["RTL_RETURN_ALT"] == pytest.approx(35.0)
    assert len(ints) + len(floats) == len(drone.fleet.vehicles[0].params)


async def test_geofence_plugin_upload_and_a_breach_returns_home(drone: Drone) -> None:
    t, a = drone.telemetry, drone.action
    center = Point(DEFAULT_HOME[0], DEFAULT_HOME[1])
    await GeofenceAsync(drone.system).upload_geofence(
        GeofenceData(circles=[Circle(center, 40.0, FenceType.INCLUSION)])
    )
    vehicle = drone.fleet.vehicles[0]
    assert [z.radius_m for z in vehicle.zones] == [40.0]
    await drone.param.set_param_int("GF_ACTION", 3)
    await until(lambda: _armable(t), "armable")
    # A mission with a waypoint outside the fence never starts (PX4's feasibility check)...
    await drone.mission.upload_mission([waypoint(0, 0, 0, 10, command=22), waypoint(1, 200, 0, 10)])
    await a.arm()
    with pytest.raises(MissionRawError, match="DENIED"):
        await drone.mission.start_mission()
    # ...so the breach is flown by hand: take off and go there.
    await a.set_takeoff_altitude(10.0)
    await a.takeoff()
    await until(lambda: _hovering(t), "hovering", within=15)
    lat, lon = geo.moved(DEFAULT_HOME[0], DEFAULT_HOME[1], 200, 0)
    await a.goto_location(lat, lon, DEFAULT_HOME[2] + 10, 0)
    await until(
        lambda: _mode_is(t, FlightMode.RETURN_TO_LAUNCH), "the breach starts RTL", within=20
    )
    home = await t.home()
    position = await t.position()
    assert (
        30
        < geo.distance_m(
            home.latitude_deg, home.longitude_deg, position.latitude_deg, position.longitude_deg
        )
        < 60
    )


async def test_a_cut_link_triggers_the_data_link_loss_action(drone: Drone) -> None:
    t, a = drone.telemetry, drone.action
    await drone.param.set_param_int("NAV_DLL_ACT", 3)
    await drone.param.set_param_int("COM_DL_LOSS_T", 5)
    await until(lambda: _armable(t), "armable")
    await a.set_takeoff_altitude(30.0)
    await a.arm()
    await a.takeoff()
    await until(lambda: _hovering(t), "hovering", within=15)
    endpoint = drone.fleet.endpoints[0]
    # Like PX4, link loss counts only once a GCS has been heard (MAVSDK beats at 1 Hz).
    await until(lambda: _is(endpoint.last_gcs_heartbeat_s is not None), "MAVSDK's heartbeat")
    drone.fleet.faults[0].link_cut = True
    vehicle = drone.fleet.vehicles[0]
    await until(lambda: _is(vehicle.mode.name == "AUTO_LAND"), "data-link loss lands", within=10)
    drone.fleet.faults[0].link_cut = False
    await until(
        lambda: _mode_is(t, FlightMode.LAND), "MAVSDK sees it landing once the link is back"
    )
    await until(lambda: _landed_and_disarmed(t), "landed", within=30)


async def _is(value: bool) -> bool:
    return value


async def test_mission_upload_survives_packet_loss(drone: Drone) -> None:
    faults = drone.fleet.faults[0]
    # A burst: the next datagrams from MAVSDK (the upload's first messages) are lost, so
    # the simulator's mission protocol must take MAVSDK's retransmissions. (Random loss
    # would test MAVSDK's luck: its retries run out now and then, even at 5 %.)
    faults.drop_next_in = 3
    before = faults.dropped_in
    items = [waypoint(i, i * 20.0, 0, 20) for i in range(10)]
    await drone.mission.upload_mission(items)
    assert [i.x for i in drone.fleet.vehicles[0].mission] == [i.x for i in items]
    assert faults.dropped_in == before + 3, "the burst was lost during the upload"


async def test_injected_command_rejection_reaches_mavsdk(drone: Drone) -> None:
    await until(lambda: _armable(drone.telemetry), "armable")
    drone.fleet.faults[0].set_rejected(None, reject_all=True)
    with pytest.raises(ActionError, match="COMMAND_DENIED"):
        await drone.action.arm()
    drone.fleet.faults[0].set_rejected(None)
    await drone.action.arm()
    await drone.action.disarm()


async def test_mission_pause_resume_set_current_and_clear(drone: Drone) -> None:
    t, a, m = drone.telemetry, drone.action, drone.mission
    items = [waypoint(0, 0, 0, 10, command=22)] + [
        waypoint(i, i * 40.0, 0, 10) for i in range(1, 6)
    ]
    await until(lambda: _armable(t), "armable")
    await m.upload_mission(items)
    await m.set_current_mission_item(2)
    await until(lambda: _progress_is(m, 2), "MAVSDK sees item 2 current")
    await m.set_current_mission_item(0)
    await a.arm()
    await m.start_mission()
    await until(lambda: _progress_is(m, 2), "the mission reaches item 2", within=20)
    await m.pause_mission()
    await until(lambda: _mode_is(t, FlightMode.HOLD), "paused in hold")
    vehicle = drone.fleet.vehicles[0]
    assert vehicle.mission_state.name == "PAUSED"
    await m.start_mission()
    await until(
        lambda: _is(vehicle.mission_state.name == "COMPLETE"), "resumed to the end", within=30
    )
    assert await m.is_mission_finished()
    await m.clear_mission()
    assert vehicle.mission == []
    assert await m.download_mission() == []


async def _progress_is(m: MissionRawAsync, current: int) -> bool:
    return (await m.mission_progress()).current == current


async def test_goto_velocity_and_rally_points(drone: Drone) -> None:
    t, a, m = drone.telemetry, drone.action, drone.mission
    await until(lambda: _armable(t), "armable")
    rally = [
        MissionItem(
            0,
            6,
            5100,
            0,
            1,
            0,
            0,
            0,
            0,
            round(DEFAULT_HOME[0] * 1e7) + 500,
            round(DEFAULT_HOME[1] * 1e7),
            20.0,
            2,
        )
    ]
    await m.upload_rally_points(rally)
    assert len(drone.fleet.vehicles[0].rally) == 1
    await a.arm()
    await a.takeoff()
    await until(lambda: _hovering(t), "hovering", within=15)
    lat, lon = geo.moved(DEFAULT_HOME[0], DEFAULT_HOME[1], 0, 150)
    await a.goto_location(lat, lon, DEFAULT_HOME[2] + 25, 90)
    await until(lambda: _moving_east(t), "MAVSDK sees the vehicle fly east", within=10)
    await until(lambda: _near(t, lat, lon), "it arrives", within=30)
    assert (await t.position()).relative_altitude_m == pytest.approx(25, abs=0.5)


async def _moving_east(t: TelemetryAsync) -> bool:
    velocity = await t.velocity_ned()
    return velocity.east_m_s > 2 and abs(velocity.north_m_s) < 0.5


async def _near(t: TelemetryAsync, lat: float, lon: float) -> bool:
    position = await t.position()
    return geo.distance_m(position.latitude_deg, position.longitude_deg, lat, lon) < 1
