"""PX4's mission feasibility check in the simulator: each rule says PX4's words, and a
vehicle refuses to fly (or to be armed in Mission mode with) a mission that fails."""

from __future__ import annotations

import math

import pytest
from pymavlink.dialects.v20 import common as mavlink

from simulator import feasibility, geo, geofence
from simulator.feasibility import Situation
from simulator.mission_items import MissionItem, MissionType
from simulator.params import ParamTable
from simulator.vehicle import LandedState, MissionState, Px4Mode, Severity, Vehicle
from tests.unit.test_sim_vehicle import HOME, flying, make, run, texts

CRITICAL = mavlink.MAV_SEVERITY_CRITICAL


def at(seq: int, command: int, north_m: float = 0.0, east_m: float = 0.0, z: float = 20.0,
       *, frame: int = 6, p1: float = 0.0, p2: float = 0.0) -> MissionItem:  # fmt: skip
    """An item ``north_m``/``east_m`` from HOME (frame 6: ``z`` above home)."""
    lat, lon = geo.moved(HOME[0], HOME[1], north_m, east_m)
    return MissionItem(
        seq, frame, command, 0, 1, p1, p2, 0, math.nan, round(lat * 1e7), round(lon * 1e7), z
    )


def do(seq: int, command: int, p1: float = 0.0, p2: float = 0.0) -> MissionItem:
    """An item without a position (MAV_FRAME_MISSION)."""
    return MissionItem(seq, 2, command, 0, 1, p1, p2, 0, 0, 0, 0, 0)


def situation(**changes: object) -> Situation:
    base: dict[str, object] = {"home": HOME, "position": HOME[:2], "landed": True}
    return Situation(**(base | changes))  # type: ignore[arg-type]


def said(items: list[MissionItem], **changes: object) -> tuple[bool, list[str]]:
    verdict = feasibility.check(items, situation(**changes))
    assert all(severity == CRITICAL for _, severity in verdict.texts)
    return verdict.valid, [text for text, _ in verdict.texts]


SURVEY = [at(0, 22, z=15), at(1, 16, 100, 0), at(2, 16, 100, 100), do(3, 178, 1, 8), do(4, 20)]


def test_an_ordinary_mission_passes_silently() -> None:
    assert said(SURVEY) == (True, [])
    # a first waypoint 5 km away, a DO_JUMP PX4 does not check (target, repeats)
    far = [at(0, 16, 5000, 0), at(1, 16, 5100, 0), do(2, 177, 40, -1)]
    assert said(far) == (True, [])


def test_an_empty_mission_is_invalid_and_without_home_it_waits_for_a_position() -> None:
    assert said([]) == (False, [])
    verdict = feasibility.check(SURVEY, situation(home=None))
    assert not verdict.valid
    assert verdict.texts == [("Not yet ready for mission, no position lock.", 6)]


@pytest.mark.parametrize("command", [112, 114, 400, 212, 534, 5000])
def test_commands_px4_stores_but_does_not_fly_are_refused_by_item(command: int) -> None:
    """CONDITION_DELAY, CONDITION_DISTANCE, ARM_DISARM, AUTOTUNE, SET_CAMERA_SOURCE and the
    fence return point pass the upload; the check stops at the first of them."""
    item = at(1, command) if command == 5000 else do(1, command)
    mission = [at(0, 16, 50, 0), item, at(2, 22, z=0)]  # a takeoff too low, and not first
    assert said(mission) == (False, [f"Mission rejected: item 2: unsupported cmd: {command}"])


def test_a_mission_may_not_start_with_a_landing_on_the_ground() -> None:
    mission = [at(0, 21, 30, 0), at(1, 16, 60, 0)]
    assert said(mission) == (False, ["Mission rejected: starts with landing"])
    assert said(mission, landed=False) == (True, [])


def test_takeoff_altitude_must_be_above_home_in_its_own_frame() -> None:
    rejected = "Mission rejected: Takeoff altitude below home altitude!"
    assert said([at(0, 22, z=0.0), at(1, 16, 50, 0)]) == (False, [rejected])
    # AMSL: 100 m at a site 400 m high is underground, 410 m is 10 m up
    assert said([at(0, 22, z=100.0, frame=5), at(1, 16, 50, 0)]) == (False, [rejected])
    assert said([at(0, 22, z=410.0, frame=5), at(1, 16, 50, 0)]) == (True, [])
    assert said([at(0, 22, z=math.nan), at(1, 16, 50, 0)]) == (True, [])  # "keep altitude"


def test_takeoff_must_come_before_any_item_with_a_position() -> None:
    not_first = "Mission rejected: takeoff not first waypoint item"
    assert said([at(0, 16, 20, 0), at(1, 22)]) == (False, [not_first])
    assert said([do(0, 20), at(1, 22)]) == (False, [not_first])  # an RTL counts, as on PX4
    assert said([do(0, 178, 1, 5), do(1, 2000), at(2, 22), at(3, 16, 9, 9)]) == (True, [])


def test_the_first_waypoint_must_be_within_mis_dist_1wp_of_the_vehicle() -> None:
    mission = [do(0, 178, 1, 5), at(1, 16, 1500.5, 0), at(2, 16, 3000, 0)]
    assert said(mission, dist_1wp_m=1000.0) == (
        False,
        ["First waypoint too far away: 1500m, 1000 max"],
    )
    assert said(mission, dist_1wp_m=2000.0) == (True, [])
    assert said(mission, dist_1wp_m=0.0) == (True, [])  # 0 disables the check
    moved = geo.moved(HOME[0], HOME[1], 1400, 0)
    assert said(mission, dist_1wp_m=1000.0, position=moved) == (True, [])


@pytest.mark.parametrize(
    ("req", "mission", "text"),
    [
        (1, [at(0, 16, 10, 0)], "Mission rejected: Takeoff waypoint required."),
        (2, [at(0, 22), at(1, 16, 9, 0)], "Mission rejected: Landing waypoint/pattern required."),
        (3, [at(0, 22), at(1, 16, 9, 0)], "Mission rejected: Takeoff or Landing item missing."),
        (4, [at(0, 22), at(1, 16, 9, 0)], "Mission rejected: Add Landing item or remove Takeoff."),
        (4, [at(0, 16, 9, 0), at(1, 21)], "Mission rejected: Add Takeoff item or remove Landing."),
        (5, [at(0, 16, 9, 0), at(1, 21)], "Mission rejected: Add Takeoff item or remove Landing."),
    ],
)
def test_mis_tko_land_req_asks_for_takeoff_and_landing_items(
    req: int, mission: list[MissionItem], text: str
) -> None:
    assert said(mission, takeoff_land_req=req) == (False, [text])
    assert said([at(0, 22), at(1, 16, 9, 0), at(2, 21)], takeoff_land_req=req) == (True, [])


def test_mis_tko_land_req_5_in_the_air_asks_for_a_landing_only() -> None:
    mission = [at(0, 16, 9, 0), at(1, 16, 30, 0)]
    assert said(mission, takeoff_land_req=5) == (True, [])  # landed: both or neither
    landing = "Mission rejected: Landing waypoint/pattern required."
    assert said(mission, takeoff_land_req=5, landed=False) == (False, [landing])


def test_vtol_items_are_named_but_px4_still_flies_the_mission() -> None:
    """PX4's check says "rejected" for VTOL items on a multicopter, but does not count the
    check among the failures (``someCheckFailed``): the mission stays valid."""
    valid, words = said([at(0, 84, z=10), at(1, 16, 40, 0), at(2, 85, 40, 0)])
    assert (valid, words) == (
        True,
        ["Mission rejected: Mission contains VTOL items but vehicle is not a VTOL"],
    )


def test_a_gate_on_top_of_a_waypoint_is_refused() -> None:
    mission = [at(0, 16, 50, 0), at(1, 4501, 50, 0)]
    assert said(mission) == (False, ["Distance between waypoint and gate too close: 0 meters"])
    assert said([at(0, 16, 50, 0), at(1, 4501, 60, 0)]) == (True, [])


def test_every_waypoint_must_be_inside_the_geofence() -> None:
    circle = geofence.Zone(inclusion=True, center=HOME[:2], radius_m=150.0)
    mission = [at(0, 22), at(1, 16, 100, 0), at(2, 16, 300, 0), at(3, 16, 500, 0)]
    assert said(mission, zones=[circle]) == (False, ["Geofence violation for waypoint 3"])
    assert said(mission, max_hor_dist_m=200.0) == (False, ["Geofence violation for waypoint 3"])
    assert said(mission, max_ver_dist_m=15.0) == (False, ["Geofence violation for waypoint 1"])
    # Only waypoints are checked: a path through an exclusion zone passes, as on PX4.
    corners = [geo.moved(HOME[0], HOME[1], n, e) for n, e in ((40, -20), (40, 20), (80, 0))]
    keep_out = geofence.Zone(inclusion=False, polygon=tuple(corners))
    assert said([at(0, 16, 200, 0)], zones=[keep_out]) == (True, [])


def test_nav_roi_is_stored_as_do_set_roi_and_passes() -> None:
    assert said([at(0, 80, 50, 0, p1=3), at(1, 16, 60, 0)]) == (True, [])


# ------------------------------------------------------------------ the vehicle


def infeasible() -> list[MissionItem]:
    return [at(0, 16, 10, 0), at(1, 22)]  # takeoff after a waypoint


def test_an_infeasible_upload_says_why_and_the_mission_cannot_start() -> None:
    v = make()
    v.replace_items(MissionType.MISSION, infeasible())
    critical = [e for e in v.events if e.kind == "text" and e.severity == Severity.CRITICAL]
    assert [e.text for e in critical] == ["Mission rejected: takeoff not first waypoint item"]
    assert not v.mission_valid
    assert v.mission_state is MissionState.NO_MISSION
    assert v.set_mode(Px4Mode.AUTO_MISSION) == "Switching to Mission is currently not available"
    assert v.start_mission() == "Mission start denied! No valid mission"
    assert v.mode is Px4Mode.AUTO_LOITER
    # arming and a takeoff in another mode are PX4's to allow
    assert v.arming_problem() is None
    flying(v)
    assert v.set_mode(Px4Mode.AUTO_MISSION) == "Switching to Mission is currently not available"
    assert v.mode is Px4Mode.AUTO_LOITER and not v.mission_seq
    v.replace_items(MissionType.MISSION, SURVEY)
    assert v.mission_valid and v.set_mode(Px4Mode.AUTO_MISSION) is None


def test_arming_in_mission_mode_needs_a_valid_mission() -> None:
    v = make()
    v.replace_items(MissionType.MISSION, SURVEY)
    assert v.set_mode(Px4Mode.AUTO_MISSION) is None  # on the ground, disarmed
    v.events.clear()
    v.replace_items(MissionType.MISSION, infeasible())
    assert texts(v)[-1] == "No valid mission available, refusing takeoff"
    assert v.mode is Px4Mode.AUTO_MISSION
    assert v.arm() == "Arming denied: Resolve system health failures first"
    v.step(0.1)
    assert not v.armed and v.landed_state is LandedState.ON_GROUND


def test_com_arm_mis_req_refuses_arming_in_any_mode_without_a_valid_mission() -> None:
    v = make(COM_ARM_MIS_REQ=1)
    assert v.arm() == "Arming denied: Resolve system health failures first"
    v.replace_items(MissionType.MISSION, infeasible())
    assert v.arming_problem() is not None
    v.replace_items(MissionType.MISSION, SURVEY)
    assert v.arm() is None


def test_a_new_fence_checks_the_mission_again() -> None:
    v = make()
    v.replace_items(MissionType.MISSION, SURVEY)
    assert v.mission_valid
    lat, lon = HOME[0], HOME[1]
    circle = MissionItem(0, 5, 5003, 0, 1, 50.0, 0, 0, 0, round(lat * 1e7), round(lon * 1e7), 0, 1)
    v.replace_items(MissionType.FENCE, [circle])
    assert not v.mission_valid
    assert texts(v)[-1] == "Geofence violation for waypoint 2"
    v.replace_items(MissionType.FENCE, [])
    assert v.mission_valid


def test_a_mission_uploaded_before_a_position_lock_is_checked_once_home_is_known() -> None:
    v = Vehicle(ParamTable(), *HOME)  # not stepped: no GPS fix yet, no home
    v.replace_items(MissionType.MISSION, infeasible())
    assert not v.mission_valid and texts(v) == []
    v.step(0.02)  # the first fix sets home
    assert v.home is not None
    assert "Mission rejected: takeoff not first waypoint item" in texts(v)


def test_an_infeasible_mission_uploaded_in_flight_stops_the_mission_and_holds() -> None:
    v = flying(make(MPC_XY_CRUISE=10.0))
    v.replace_items(MissionType.MISSION, [at(0, 16, 300, 0), at(1, 16, 0, 300)])
    assert v.start_mission() is None
    run(v, 5)
    v.replace_items(MissionType.MISSION, [at(0, 16, 20, 0), at(1, 22)])
    assert texts(v)[-1] == "No valid mission available, loitering"
    assert v.mode is Px4Mode.AUTO_LOITER
    where = (v.lat_deg, v.lon_deg)
    run(v, 5)
    assert geo.distance_m(*where, v.lat_deg, v.lon_deg) < 3
