"""The simulated vehicle model on its own: pure state stepped in simulated time."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from simulator import geo
from simulator.mission_items import MissionItem, MissionType
from simulator.params import ParamTable, float_bits_of_int32, int32_of_float_bits
from simulator.vehicle import LandedState, MissionState, Px4Mode, Vehicle

HOME = (47.0, 8.0, 400.0)
DT = 0.02


def make(**params: float) -> Vehicle:
    v = Vehicle(ParamTable(params), *HOME)
    v.step(DT)
    return v


def run(v: Vehicle, seconds: float, stop: Callable[[], bool] | None = None) -> float:
    """Step up to ``seconds``; stop early when ``stop()`` holds. Returns the time used."""
    t = 0.0
    while t < seconds:
        if stop is not None and stop():
            return t
        v.step(DT)
        t += DT
    assert stop is None or stop(), "the condition never held"
    return t


def item(
    seq: int,
    command: int,
    north_m: float = 0,
    east_m: float = 0,
    alt: float = 20,
    *,
    frame: int = 6,
    p1: float = 0,
    p2: float = 0,
    kind: MissionType = MissionType.MISSION,
) -> MissionItem:
    lat, lon = geo.moved(HOME[0], HOME[1], north_m, east_m)
    x, y = (round(lat * 1e7), round(lon * 1e7)) if (north_m or east_m) else (0, 0)
    return MissionItem(seq, frame, command, 0, 1, p1, p2, 0, math.nan, x, y, alt, int(kind))


def texts(v: Vehicle) -> list[str]:
    return [e.text for e in v.events if e.kind == "text"]


def reached(v: Vehicle) -> list[int]:
    return [e.seq for e in v.events if e.kind == "item_reached"]


def flying(v: Vehicle, alt: float = 10) -> Vehicle:
    v.params.set("MIS_TAKEOFF_ALT", alt)
    assert v.arm() is None
    assert v.takeoff() is None
    run(v, 60, lambda: v.mode is Px4Mode.AUTO_LOITER)
    v.events.clear()
    return v


def test_px4_custom_modes_encode_main_and_sub_mode() -> None:
    assert Px4Mode.AUTO_MISSION.custom_mode == (4 << 16) | (4 << 24)
    assert Px4Mode.POSCTL.custom_mode == 3 << 16
    assert Px4Mode.from_main_sub(4, 5) is Px4Mode.AUTO_RTL
    assert Px4Mode.from_main_sub(3, 7) is Px4Mode.POSCTL  # sub mode only matters in AUTO
    assert Px4Mode.from_main_sub(9, 0) is None


def test_params_int32_travel_bytewise_and_values_are_clamped() -> None:
    table = ParamTable()
    wire, _ = table.wire_value("COM_DL_LOSS_T")
    assert int32_of_float_bits(wire) == 10
    assert wire != 10.0  # the bits, not the number
    assert table.decode_wire("NAV_DLL_ACT", float_bits_of_int32(2)) == 2
    assert table.set("MPC_XY_CRUISE", 1000) == 30
    assert table.set("NAV_DLL_ACT", 2.4) == 2
    with pytest.raises(ValueError, match="unknown"):
        table.set("NOPE", 1)
    with pytest.raises(ValueError, match="finite"):
        table.set("MIS_TAKEOFF_ALT", math.nan)


def test_home_is_set_at_the_first_gps_fix_and_the_vehicle_is_armable() -> None:
    v = make()
    assert v.home is not None and v.home.alt_amsl_m == HOME[2]
    assert v.arming_problem() is None
    assert v.landed_state is LandedState.ON_GROUND and not v.armed


def test_takeoff_climbs_at_the_limited_rate_then_holds() -> None:
    v = make(MPC_Z_VEL_MAX_UP=2.0)
    v.params.set("MIS_TAKEOFF_ALT", 20)
    assert v.takeoff() == "Takeoff denied: disarmed"
    assert v.arm() is None
    assert v.takeoff() is None
    run(v, 1.0)
    assert v.landed_state is LandedState.TAKEOFF
    assert 1.8 <= v.rel_alt_m <= 2.05
    used = run(v, 30, lambda: v.mode is Px4Mode.AUTO_LOITER)
    assert used == pytest.approx(9, abs=0.2)  # 18 m more at 2 m/s
    assert v.landed_state is LandedState.IN_AIR
    assert v.rel_alt_m == pytest.approx(20, abs=0.2)
    run(v, 5)
    assert v.rel_alt_m == pytest.approx(20, abs=0.2) and v.groundspeed_m_s < 0.01


def test_disarm_in_the_air_needs_force() -> None:
    v = flying(make())
    assert v.disarm() == "Disarming denied: not landed"
    assert v.armed
    assert v.disarm(force=True) is None
    run(v, 10, lambda: v.landed_state is LandedState.ON_GROUND)
    assert v.rel_alt_m == 0


def test_arming_is_refused_without_gps_and_with_a_critical_battery() -> None:
    v = make()
    v.gps_lost = True
    assert v.arm() == "Arming denied: no 3D GPS fix"
    assert v.arm(force=True) is None  # the magic number skips the checks
    v = make()
    v.set_battery(5)
    assert "battery" in (v.arm() or "")


def test_waypoints_are_flown_at_cruise_speed_and_reached_in_order() -> None:
    v = flying(make(MPC_XY_CRUISE=10.0, NAV_ACC_RAD=2.0))
    v.replace_items(
        MissionType.MISSION, [item(0, 16, 200, 0), item(1, 16, 200, 100), item(2, 16, 0, 0, 30)]
    )
    assert v.mission_state is MissionState.NOT_STARTED
    assert v.start_mission() is None
    run(v, 10)
    moved_m = geo.distance_m(HOME[0], HOME[1], v.lat_deg, v.lon_deg)
    assert 95 <= moved_m <= 101  # 10 s at 10 m/s
    assert v.mission_state is MissionState.ACTIVE and v.mission_seq == 0
    run(v, 120, lambda: v.mission_state is MissionState.COMPLETE)
    assert reached(v) == [0, 1, 2]
    assert v.mode is Px4Mode.AUTO_MISSION  # holds at the last waypoint, PX4-like
    assert v.rel_alt_m == pytest.approx(30, abs=1.0)
    where = (v.lat_deg, v.lon_deg)
    run(v, 10)
    assert geo.distance_m(*where, v.lat_deg, v.lon_deg) < 2.5


def test_global_frame_is_amsl_and_relative_frames_are_above_home() -> None:
    v = flying(make())
    v.replace_items(
        MissionType.MISSION,
        [item(0, 16, 30, 0, HOME[2] + 15, frame=5), item(1, 16, 60, 0, 25, frame=6)],
    )
    v.start_mission()
    run(v, 60, lambda: reached(v) == [0])
    assert v.rel_alt_m == pytest.approx(15, abs=1.0)
    run(v, 60, lambda: reached(v) == [0, 1])
    assert v.rel_alt_m == pytest.approx(25, abs=1.0)


def test_do_jump_repeats_the_given_number_of_times() -> None:
    v = flying(make(MPC_XY_CRUISE=15.0))
    v.replace_items(
        MissionType.MISSION,
        [
            item(0, 16, 20, 0),
            item(1, 16, 40, 0),
            item(2, 177, frame=2, p1=0, p2=2),
            item(3, 16, 0, 0),
        ],
    )
    v.start_mission()
    run(v, 300, lambda: v.mission_state is MissionState.COMPLETE)
    assert reached(v) == [0, 1, 0, 1, 0, 1, 3]


def test_change_speed_delay_loiter_time_and_items_not_simulated() -> None:
    v = flying(make(MPC_XY_CRUISE=5.0))
    v.replace_items(
        MissionType.MISSION,
        [
            item(0, 178, frame=2, p2=12.0),
            item(1, 2000, frame=2),  # a camera item: done at once
            item(2, 19, 100, 0, p1=7),  # loiter 7 s
            item(3, 93, frame=2, p1=4),  # delay 4 s
            item(4, 16, 0, 0),
        ],
    )
    v.start_mission()
    run(v, 5)
    assert reached(v) == [0, 1]
    assert v.groundspeed_m_s == pytest.approx(12, abs=0.5)
    run(v, 60, lambda: reached(v) == [0, 1, 2])
    t = run(v, 30, lambda: reached(v) == [0, 1, 2, 3])
    assert t == pytest.approx(4, abs=0.1)


def test_loiter_time_waits_param1_seconds_at_the_point() -> None:
    v = flying(make(MPC_XY_CRUISE=10.0))
    v.replace_items(MissionType.MISSION, [item(0, 19, 50, 0, p1=6), item(1, 16, 0, 0)])
    v.start_mission()
    to_arrive = run(v, 60, lambda: geo.distance_m(HOME[0], HOME[1], v.lat_deg, v.lon_deg) > 48)
    waited = run(v, 60, lambda: reached(v) == [0])
    assert 4 < to_arrive < 6
    assert waited == pytest.approx(6, abs=0.3)


def test_mission_start_on_the_ground_takes_off_first() -> None:
    v = make()
    v.replace_items(MissionType.MISSION, [item(0, 16, 30, 0, 15), item(1, 21, 30, 0)])
    assert v.arm() is None
    v.start_mission()
    v.step(DT)
    assert v.landed_state is LandedState.TAKEOFF
    run(v, 120, lambda: v.mission_state is MissionState.COMPLETE)
    assert reached(v) == [0, 1]
    assert v.landed_state is LandedState.ON_GROUND
    run(v, 5, lambda: not v.armed)
    assert "Disarmed by landing" in texts(v)


def test_rtl_climbs_to_the_return_altitude_flies_home_lands_and_disarms() -> None:
    v = flying(make(RTL_RETURN_ALT=40.0, COM_DISARM_LAND=2.0, MPC_XY_CRUISE=10.0))
    v.replace_items(MissionType.MISSION, [item(0, 16, 150, 150, 20), item(1, 20, frame=2)])
    v.start_mission()
    run(v, 120, lambda: v.mode is Px4Mode.AUTO_RTL)
    assert reached(v) == [0, 1]
    assert v.mission_state is MissionState.COMPLETE
    top = 0.0

    def home_and_landed() -> bool:
        nonlocal top
        top = max(top, v.rel_alt_m)
        return v.landed_state is LandedState.ON_GROUND

    run(v, 300, home_and_landed)
    assert top == pytest.approx(40, abs=0.5)
    assert v.home is not None
    assert geo.distance_m(v.home.lat_deg, v.home.lon_deg, v.lat_deg, v.lon_deg) < 0.5
    assert v.armed
    assert run(v, 5, lambda: not v.armed) == pytest.approx(2.0, abs=0.05)


def test_low_battery_returns_and_critical_battery_lands() -> None:
    v = flying(make(COM_LOW_BAT_ACT=3))
    v.set_battery(14)
    v.step(DT)
    assert v.mode is Px4Mode.AUTO_RTL
    assert any("battery low" in t for t in texts(v))
    v.set_battery(6)
    v.step(DT)
    assert v.mode is Px4Mode.AUTO_LAND
    assert any("battery critical" in t for t in texts(v))


def test_low_battery_only_warns_when_told_to() -> None:
    v = flying(make(COM_LOW_BAT_ACT=0))
    v.set_battery(5)
    v.step(DT)
    assert v.mode is Px4Mode.AUTO_LOITER
    assert any("battery critical" in t for t in texts(v))


def test_battery_drains_faster_in_the_air_and_voltage_follows() -> None:
    v = make()
    full_v = v.voltage_v
    run(v, 10)
    assert v.battery_pct == 100  # disarmed: no drain
    v = flying(make())
    before = v.battery_pct
    run(v, 100)
    assert 5 < before - v.battery_pct < 10
    assert v.voltage_v < full_v


def test_gps_loss_in_the_air_lands() -> None:
    v = flying(make())
    v.gps_lost = True
    v.step(DT)
    assert v.mode is Px4Mode.AUTO_LAND and v.gps_fix_type == 0 and v.satellites == 0
    run(v, 60, lambda: v.landed_state is LandedState.ON_GROUND)


@pytest.mark.parametrize(
    ("action", "mode"),
    [
        (0, Px4Mode.AUTO_LOITER),
        (1, Px4Mode.AUTO_LOITER),
        (2, Px4Mode.AUTO_RTL),
        (3, Px4Mode.AUTO_LAND),
    ],
)
def test_data_link_loss_action(action: int, mode: Px4Mode) -> None:
    v = flying(make(NAV_DLL_ACT=action))
    v.replace_items(MissionType.MISSION, [item(0, 16, 300, 0)])
    v.start_mission()
    run(v, 2)
    v.link_lost = True
    v.step(DT)
    assert v.mode is (Px4Mode.AUTO_MISSION if action == 0 else mode)
    v.link_lost = False
    v.step(DT)
    assert "Data link regained" in texts(v)


def test_leaving_an_inclusion_circle_triggers_the_geofence_action() -> None:
    # Flown by a reposition: a mission with a waypoint outside the fence is refused
    # before it starts (PX4's feasibility check, test_sim_feasibility.py).
    v = flying(make(GF_ACTION=3, MPC_XY_CRUISE=10.0))
    lat, lon = HOME[0], HOME[1]
    fence = [MissionItem(0, 5, 5003, 0, 1, 50.0, 0, 0, 0, round(lat * 1e7), round(lon * 1e7), 0, 1)]
    v.replace_items(MissionType.FENCE, fence)
    assert v.reposition(*geo.moved(lat, lon, 200, 0), v.alt_amsl_m) is None
    run(v, 30, lambda: v.mode is Px4Mode.AUTO_RTL)
    assert 49 < geo.distance_m(lat, lon, v.lat_deg, v.lon_deg) < 52
    assert any("geofence" in t for t in texts(v))


def test_entering_an_exclusion_polygon_holds() -> None:
    v = flying(make(GF_ACTION=2, MPC_XY_CRUISE=10.0))
    corners = [(40, -20), (40, 20), (80, 20), (80, -20)]
    fence = []
    for i, (n, e) in enumerate(corners):
        lat, lon = geo.moved(HOME[0], HOME[1], n, e)
        fence.append(
            MissionItem(i, 5, 5002, 0, 1, 4, 0, 0, 0, round(lat * 1e7), round(lon * 1e7), 0, 1)
        )
    v.replace_items(MissionType.FENCE, fence)
    v.replace_items(MissionType.MISSION, [item(0, 16, 200, 0)])
    v.start_mission()
    run(v, 30, lambda: v.mode is Px4Mode.AUTO_LOITER)
    north, _ = geo.offset_m(HOME[0], HOME[1], v.lat_deg, v.lon_deg)
    assert 39 < north < 42


def test_reposition_and_speed_change_in_hold() -> None:
    v = make()
    assert v.reposition(*HOME) == "Reposition denied: not flying"
    v = flying(make())
    lat, lon = geo.moved(HOME[0], HOME[1], 0, 100)
    v.set_speed(8)
    assert v.reposition(lat, lon, HOME[2] + 30) is None
    run(v, 5)
    assert v.groundspeed_m_s == pytest.approx(8, abs=0.1)
    run(v, 60, lambda: geo.distance_m(lat, lon, v.lat_deg, v.lon_deg) < 0.1)
    assert v.rel_alt_m == pytest.approx(30, abs=0.5)


def test_a_new_upload_resets_progress_and_an_empty_one_leaves_mission_mode() -> None:
    v = flying(make())
    v.replace_items(MissionType.MISSION, [item(0, 16, 50, 0), item(1, 16, 0, 0)])
    v.start_mission()
    run(v, 60, lambda: v.mission_seq == 1)
    v.replace_items(MissionType.MISSION, [item(0, 16, 10, 0)])
    assert v.mission_seq == 0
    v.replace_items(MissionType.MISSION, [])
    assert v.mode is Px4Mode.AUTO_LOITER and v.mission_state is MissionState.NO_MISSION
    assert v.set_mode(Px4Mode.AUTO_MISSION) == "Switching to Mission is currently not available"
