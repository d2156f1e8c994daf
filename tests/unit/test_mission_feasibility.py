"""PX4's mission checks (``shared.mission.feasibility``), rule by rule.

Missions are written as operators' tools write them (``QGC WPL 110`` rows with a home row
first, QGroundControl ``.plan`` files in ``tests/missions/px4_*``), parsed with the real
parser, then checked; each refusal must name the item's place in the file and say why in
an operator's words. Positions are metres north/east of a home at 500 m above sea level.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import msgspec
import pytest

from shared import mav_cmd
from shared.mission import MissionFile, MissionFileError, MissionItem, parse_mission_file
from shared.mission.feasibility import MissionLimits, check_feasible

OWN = Path(__file__).resolve().parents[1] / "missions"
HOME = (47.0, 8.0, 500.0)
M_PER_DEG_LAT = 111_195.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(HOME[0]))

# A row: (frame, command, params 1-4, north m, east m, altitude); frame 2 rows have no position.
Row = tuple[int, int, tuple[float, float, float, float], float, float, float]


def at(north_m: float, east_m: float) -> tuple[float, float]:
    return (HOME[0] + north_m / M_PER_DEG_LAT, HOME[1] + east_m / M_PER_DEG_LON)


def row(
    command: int,
    north: float = 0.0,
    east: float = 0.0,
    alt: float = 20.0,
    *,
    frame: int = 3,
    params: tuple[float, float, float, float] = (0, 0, 0, 0),
) -> Row:
    return (frame, command, params, north, east, alt)


def do(command: int, *params: float) -> Row:
    """An item without a position (frame 2, MISSION)."""
    p = (list(params) + [0.0] * 4)[:4]
    return (2, command, (p[0], p[1], p[2], p[3]), 0.0, 0.0, 0.0)


TAKEOFF = row(mav_cmd.NAV_TAKEOFF)
RTL = do(mav_cmd.NAV_RETURN_TO_LAUNCH)


def wpl(*rows: Row, home: tuple[float, float, float] | None = HOME) -> MissionFile:
    """A QGC WPL 110 file as QGroundControl writes one: row 0 the home (0, 0 when none is
    given), then the items; DO_JUMP targets are row numbers (item seq + 1)."""
    lines = ["QGC WPL 110"]
    lat, lon, alt = home or (0.0, 0.0, 0.0)  # at 0, 0: no home (Mission Planner's way)
    lines.append(f"0\t1\t0\t16\t0\t0\t0\t0\t{lat:.7f}\t{lon:.7f}\t{alt:g}\t1")
    for frame, command, p, north, east, alt in rows:
        n = len(lines) - 1
        if frame == 2:
            lat = lon = 0.0
        else:
            lat, lon = at(north, east)
        lines.append(
            f"{n}\t0\t{frame}\t{command}\t{p[0]:g}\t{p[1]:g}\t{p[2]:g}\t{p[3]:g}"
            f"\t{lat:.7f}\t{lon:.7f}\t{alt:g}\t1"
        )
    return parse_mission_file("\n".join(lines).encode())


def refusal(mission: MissionFile, **kwargs: object) -> MissionFileError:
    with pytest.raises(MissionFileError) as info:
        check_feasible(mission, **kwargs)  # type: ignore[arg-type]
    return info.value


def square() -> list[Row]:
    return [TAKEOFF, row(16, 100, 0), row(16, 100, 100), row(16, 0, 100), RTL]


def test_a_plain_mission_passes() -> None:
    check_feasible(wpl(*square()))
    check_feasible(wpl(*square(), home=None))


# --- commands and frames PX4's mission upload takes ------------------------------------


def test_terrain_frames_are_refused_saying_what_to_do_instead() -> None:
    error = refusal(wpl(TAKEOFF, row(16, 50, 0, frame=10), RTL))
    assert error.location == "line 4 (item 1)"
    assert "altitude above terrain (frame 10, GLOBAL_TERRAIN_ALT) needs terrain data" in str(error)
    assert "set a relative altitude (frame 3)" in error.message


def test_a_local_frame_is_refused() -> None:
    mission = wpl(*square())
    items = list(mission.mission)
    items[1] = msgspec.structs.replace(items[1], frame=1)
    error = refusal(msgspec.structs.replace(mission, mission=items))
    assert error.location == "line 4 (item 1)"
    assert "frame 1 (LOCAL_NED) is not a global frame" in error.message


def test_command_0_is_refused() -> None:
    error = refusal(wpl(TAKEOFF, do(0), RTL))
    assert error.location == "line 4 (item 1)"
    assert "command 0 is no MAVLink command" in error.message


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (18, "command 18 (NAV_LOITER_TURNS) is not flown by PX4 (PX4 has no loiter"),
        (82, "command 82 (NAV_SPLINE_WAYPOINT) is not flown by PX4 (PX4 flies no splines"),
        (36, "command 36 (NAV_ARC_WAYPOINT) is not flown by PX4"),
        (94, "command 94 (NAV_PAYLOAD_PLACE) is not flown by PX4"),
        (31337, "command 31337 is not flown by PX4"),
    ],
)
def test_commands_with_a_position_px4_does_not_fly(command: int, words: str) -> None:
    error = refusal(wpl(TAKEOFF, row(command, 50, 0), RTL))
    assert error.location == "line 4 (item 1)"
    assert words in error.message


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (115, "command 115 (CONDITION_YAW) is not flown by PX4 (give the heading"),
        (218, "command 218 (DO_AUX_FUNCTION) is not flown by PX4 (it is ArduPilot's)"),
        (600, "command 600 (JUMP_TAG) is not flown by PX4"),
        (601, "command 601 (DO_JUMP_TAG) is not flown by PX4"),
        (183, "command 183 (DO_SET_SERVO) is not flown by PX4 (use DO_SET_ACTUATOR (187))"),
        (112, "command 112 (CONDITION_DELAY) is not flown by PX4: its mission check refuses"),
        (400, "command 400 (COMPONENT_ARM_DISARM) is not flown by PX4: its mission check"),
    ],
)
def test_commands_without_a_position_px4_does_not_fly(command: int, words: str) -> None:
    error = refusal(wpl(TAKEOFF, do(command, 1), RTL))
    assert error.location == "line 4 (item 1)"
    assert words in error.message


def test_a_command_without_a_location_is_read_in_frame_2_and_flown_as_written() -> None:
    """Mission Planner and ArduPilot write DO commands and RTL in frame 3 or 0: the frame of a
    command without a location means nothing, so the file flies as its author meant."""
    speed_in_frame_3 = row(mav_cmd.DO_CHANGE_SPEED, params=(1, 5, -1, 0))
    rtl_in_frame_5 = row(mav_cmd.NAV_RETURN_TO_LAUNCH, frame=5, alt=0)
    mission = wpl(TAKEOFF, speed_in_frame_3, row(16, 50, 0), rtl_in_frame_5)
    check_feasible(mission)
    assert [item.frame for item in mission.mission][1:] == [2, 3, 2]
    assert mission.mission[1].param2 == 5


def test_a_command_in_the_wrong_kind_of_frame_is_refused() -> None:
    mission = wpl(*square())
    items = list(mission.mission)
    speed = msgspec.structs.replace(items[-1], command=mav_cmd.DO_CHANGE_SPEED, frame=3)
    error = refusal(msgspec.structs.replace(mission, mission=[*items[:-1], speed]))
    assert "command 178 (DO_CHANGE_SPEED) has no position: PX4 takes it only in frame 2" in str(
        error
    )
    rtl = msgspec.structs.replace(items[-1], frame=5)
    error = refusal(msgspec.structs.replace(mission, mission=[*items[:-1], rtl]))
    assert error.location == mission.where(len(items) - 1)
    assert "not frame 5 (GLOBAL_INT)" in error.message
    items[1] = msgspec.structs.replace(items[1], frame=2)
    error = refusal(msgspec.structs.replace(mission, mission=items))
    assert "command 16 (NAV_WAYPOINT) has a position: PX4 takes it only in a global frame" in (
        error.message
    )


def test_vtol_fence_and_rally_commands_are_not_a_multicopters_mission() -> None:
    error = refusal(wpl(row(mav_cmd.NAV_VTOL_TAKEOFF), row(16, 50, 0), RTL))
    assert "is for VTOL aircraft: PX4 refuses it on a multicopter" in error.message
    # Fence and rally rows become fence and rally items when read; in a hand-made item
    # list (an agent's job from elsewhere) they are refused.
    mission = wpl(TAKEOFF, row(16, 50, 0), RTL)
    for command, words in [
        (mav_cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION, "is a geofence item, not a mission item"),
        (mav_cmd.NAV_RALLY_POINT, "is a rally point, not a mission item"),
    ]:
        items = list(mission.mission)
        items[1] = msgspec.structs.replace(items[1], command=command)
        error = refusal(msgspec.structs.replace(mission, mission=items))
        assert error.location == "line 4 (item 1)"
        assert words in error.message


def test_roi_modes_px4_takes() -> None:
    check_feasible(
        wpl(TAKEOFF, row(mav_cmd.DO_SET_ROI, 30, 30, params=(3, 0, 0, 0)), *square()[1:])
    )
    check_feasible(wpl(TAKEOFF, do(mav_cmd.DO_SET_ROI, 0), *square()[1:]))
    error = refusal(wpl(TAKEOFF, do(mav_cmd.DO_SET_ROI, 3), *square()[1:]))
    assert "201 (DO_SET_ROI) mode 3 is refused by PX4" in error.message


# --- takeoff and landing ---------------------------------------------------------------


def test_the_takeoff_must_come_before_anything_that_flies() -> None:
    check_feasible(wpl(do(mav_cmd.DO_CHANGE_SPEED, 1, 5, -1), TAKEOFF, row(16, 50, 0), RTL))
    error = refusal(wpl(row(16, 50, 0), TAKEOFF, RTL))
    assert error.location == "line 4 (item 1)"
    assert "the takeoff is not the first item that flies (item 0 comes before it)" in str(error)


def test_the_takeoff_must_climb_above_home_in_any_frame() -> None:
    error = refusal(wpl(row(mav_cmd.NAV_TAKEOFF, alt=0), row(16, 50, 0), RTL))
    assert "takeoff altitude 0 m above home is not above home" in error.message
    amsl_below = row(mav_cmd.NAV_TAKEOFF, alt=100, frame=0)
    error = refusal(wpl(amsl_below, row(16, 50, 0), RTL))
    assert error.location == "line 3 (item 0)"
    assert "takeoff altitude 100 m above sea level is not above home (400 m below" in str(error)
    check_feasible(wpl(row(mav_cmd.NAV_TAKEOFF, alt=530, frame=0), row(16, 50, 0), RTL))
    # Without a home the check waits for the vehicle's, which the agent passes in.
    no_home = wpl(amsl_below, row(16, 50, 0), RTL, home=None)
    check_feasible(no_home)
    assert "400 m below" in refusal(no_home, home=HOME).message


@pytest.mark.parametrize(
    ("required", "rows", "location", "words"),
    [
        (1, [row(16, 50, 0), RTL], "line 3 (item 0)", "requires a takeoff item"),
        (2, [TAKEOFF, row(16, 50, 0), RTL], "line 5 (item 2)", "requires a landing item"),
        (3, [TAKEOFF, row(16, 50, 0), RTL], "line 5 (item 2)", "requires a landing item"),
        (4, [TAKEOFF, row(16, 50, 0)], "line 4 (item 1)", "add a landing or remove the takeoff"),
        (5, [row(16, 50, 0), row(21, 50, 0, 0)], "line 3 (item 0)", "add a takeoff or remove"),
    ],
)
def test_takeoff_and_landing_requirements(
    required: int, rows: list[Row], location: str, words: str
) -> None:
    mission = wpl(*rows)
    check_feasible(mission)
    error = refusal(mission, limits=MissionLimits(takeoff_land_required=required))
    assert error.location == location
    assert words in error.message
    assert f"MIS_TKO_LAND_REQ {required}" in error.message


def test_landing_rules() -> None:
    land = row(mav_cmd.NAV_LAND, 100, 100, 0)
    check_feasible(wpl(TAKEOFF, row(16, 100, 0), land))
    error = refusal(wpl(land, row(16, 50, 0)))
    assert "the mission starts with a landing" in error.message
    error = refusal(wpl(TAKEOFF, land, row(16, 50, 0), RTL))
    assert error.location == "line 5 (item 2)"
    assert "item 2 flies after the landing at item 1 with no takeoff between" in error.message
    error = refusal(wpl(TAKEOFF, land, TAKEOFF, row(16, 50, 0)))
    assert "the takeoff is not the first item that flies" in error.message
    start = do(mav_cmd.DO_LAND_START)
    check_feasible(wpl(TAKEOFF, row(16, 100, 0), start, row(16, 100, 100), land))
    error = refusal(wpl(TAKEOFF, start, row(16, 100, 0), start, land))
    assert "a second DO_LAND_START (the first is item 1)" in error.message
    error = refusal(wpl(TAKEOFF, row(16, 100, 0), start, row(16, 100, 100)))
    assert error.location == "line 5 (item 2)"
    assert "no landing follows this DO_LAND_START" in error.message
    error = refusal(wpl(TAKEOFF, row(16, 100, 0), start, RTL))
    assert "an RTL item after the DO_LAND_START of item 2" in error.message


# --- DO_JUMP -------------------------------------------------------------------------


def jump(target_row: int, repeat: float) -> Row:
    return do(mav_cmd.DO_JUMP, target_row, repeat)


def test_a_loop_with_a_repeat_count_passes() -> None:
    check_feasible(wpl(TAKEOFF, row(16, 100, 0), row(16, 100, 100), jump(2, 3), RTL))
    check_feasible(wpl(TAKEOFF, row(16, 100, 0), jump(5, 1), row(16, 100, 100), RTL))


@pytest.mark.parametrize(
    ("repeat", "words"),
    [
        (1.5, "DO_JUMP repeat count 1.5 is not a whole number 0..65535"),
        (70000, "DO_JUMP repeat count 70000.0 is not a whole number 0..65535"),
        (-2, "DO_JUMP repeat count -2.0 is not a whole number"),
        (-1, "DO_JUMP repeat -1 loops for ever: the job would never end"),
    ],
)
def test_repeat_counts_px4_cannot_keep(repeat: float, words: str) -> None:
    error = refusal(wpl(TAKEOFF, row(16, 100, 0), row(16, 100, 100), jump(2, repeat), RTL))
    assert error.location == "line 6 (item 3)"
    assert words in error.message


def test_an_endless_loop_flies_when_the_job_opts_in() -> None:
    mission = wpl(TAKEOFF, row(16, 100, 0), row(16, 100, 100), jump(2, -1), RTL)
    assert "endless_loops=allow" in refusal(mission).message
    check_feasible(mission, endless_loops=True)


def test_jump_targets_px4_refuses() -> None:
    error = refusal(wpl(TAKEOFF, row(16, 100, 0), jump(3, 1), RTL))
    assert "DO_JUMP to itself" in error.message
    error = refusal(wpl(TAKEOFF, row(16, 100, 0), jump(2, 1), jump(3, 1), RTL))
    assert error.location == "line 6 (item 3)"
    assert "DO_JUMP onto another DO_JUMP (item 2)" in error.message
    # The parsers refuse a target that is no item; a hand-made item list is checked too.
    mission = wpl(TAKEOFF, row(16, 100, 0), jump(2, 1), RTL)
    items = list(mission.mission)
    items[2] = msgspec.structs.replace(items[2], param1=9.0)
    error = refusal(msgspec.structs.replace(mission, mission=items))
    assert "DO_JUMP target 9.0 is no item of this mission (0..3)" in error.message


# --- altitudes and distances -----------------------------------------------------------


def test_waypoints_below_home_are_refused_unless_allowed() -> None:
    error = refusal(wpl(TAKEOFF, row(16, 100, 0, alt=-5), RTL))
    assert error.location == "line 4 (item 1)"
    assert "altitude -5 m above home is 5 m below home" in error.message
    amsl = wpl(TAKEOFF, row(16, 100, 0, alt=100, frame=0), RTL)
    error = refusal(amsl)
    assert "altitude 100 m above sea level is 400 m below home (home is 500 m" in error.message
    check_feasible(amsl, limits=MissionLimits(below_home="allow"))
    check_feasible(wpl(TAKEOFF, row(16, 100, 0), row(mav_cmd.NAV_LAND, 100, 100, -30)))
    check_feasible(msgspec.structs.replace(amsl, home=None))  # the vehicle's home decides


def test_the_first_waypoint_must_be_near_home() -> None:
    far = wpl(row(mav_cmd.NAV_TAKEOFF, 12_000, 0), row(16, 12_100, 0), RTL)
    error = refusal(far)
    assert error.location == "line 3 (item 0)"
    assert "the first waypoint is 12,000 m from home: PX4 refuses a first waypoint 10,000 m" in (
        error.message
    )
    check_feasible(far, limits=MissionLimits(max_first_waypoint_distance_m=0))
    check_feasible(far, limits=MissionLimits(max_first_waypoint_distance_m=15_000))
    check_feasible(far, home=(*at(12_000, 0), 500.0))  # the vehicle stands there
    check_feasible(msgspec.structs.replace(far, home=None))


def test_long_legs_when_a_limit_is_set() -> None:
    mission = wpl(TAKEOFF, row(16, 800, 0), row(16, 800, 1500), RTL)
    check_feasible(mission)
    error = refusal(mission, limits=MissionLimits(max_waypoint_distance_m=1000))
    assert error.location == "line 5 (item 2)"
    assert "item 2 is 1,500 m from item 1, more than 1,000 m (MIS_DIST_WPS" in error.message


def test_a_gate_on_top_of_a_waypoint_is_refused() -> None:
    gate = row(mav_cmd.CONDITION_GATE, 100, 0)
    check_feasible(wpl(TAKEOFF, gate, row(16, 200, 0), RTL))
    error = refusal(wpl(TAKEOFF, row(16, 100, 0), gate, RTL))
    assert "are at the same place and one is a CONDITION_GATE" in error.message


def test_limits_are_checked_when_read() -> None:
    with pytest.raises(msgspec.ValidationError, match="takeoff_land_required"):
        msgspec.convert({"takeoff_land_required": 6}, MissionLimits)
    with pytest.raises(msgspec.ValidationError, match="below_home"):
        msgspec.convert({"below_home": "maybe"}, MissionLimits)
    with pytest.raises(msgspec.ValidationError, match="max_first_waypoint_distance_m"):
        msgspec.convert({"max_first_waypoint_distance_m": -1}, MissionLimits)


# --- geofence ------------------------------------------------------------------------


def fence_item(command: int, north: float, east: float, p1: float) -> MissionItem:
    lat, lon = at(north, east)
    return MissionItem(
        seq=0, frame=0, command=command, current=0, autocontinue=0, param1=p1, param2=0,
        param3=0, param4=0, x=round(lat * 1e7), y=round(lon * 1e7), z=0, mission_type=1,
    )  # fmt: skip


def polygon(inclusion: bool, *corners: tuple[float, float]) -> list[MissionItem]:
    command = (
        mav_cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION
        if inclusion
        else mav_cmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION
    )
    return [fence_item(command, n, e, len(corners)) for n, e in corners]


def circle(inclusion: bool, north: float, east: float, radius: float) -> list[MissionItem]:
    command = (
        mav_cmd.NAV_FENCE_CIRCLE_INCLUSION if inclusion else mav_cmd.NAV_FENCE_CIRCLE_EXCLUSION
    )
    return [fence_item(command, north, east, radius)]


# An L-shaped inclusion: the square's corner at (100, 100) lies in the notch.
L_SHAPE = polygon(True, (-50, -50), (150, -50), (150, 50), (50, 50), (50, 150), (-50, 150))


def test_a_leg_cutting_a_concave_inclusion_fence_is_refused_though_its_ends_are_inside() -> None:
    mission = wpl(TAKEOFF, row(16, 120, 0), row(16, 0, 120), RTL)
    error = refusal(mission, fence=L_SHAPE)
    assert error.location == "line 5 (item 2)"
    assert "the straight leg from item 1 to item 2 leaves inclusion polygon 1 of the vehicle's" in (
        error.message
    )
    lat, lon = (float(v) for v in error.message.split(" at ")[1].split(":")[0].split(", "))
    north, east = (lat - HOME[0]) * M_PER_DEG_LAT, (lon - HOME[1]) * M_PER_DEG_LON
    assert (round(north), round(east)) == (70, 50), "where it leaves: the notch's edge"
    check_feasible(
        wpl(TAKEOFF, row(16, 120, 0), row(16, 0, 0), row(16, 0, 120), RTL), fence=L_SHAPE
    )


def test_an_exclusion_zone_between_two_waypoints_is_refused() -> None:
    zone = circle(False, 100, 50, 20)
    error = refusal(wpl(*square()), fence=zone, fence_source="node 7's geofence")
    assert error.location == "line 5 (item 2)"
    assert "the straight leg from item 1 to item 2 enters exclusion circle 1 of node 7's" in (
        error.message
    )
    check_feasible(wpl(*square()), fence=circle(False, 50, 50, 20))


def test_the_return_home_and_a_loop_back_are_legs_too() -> None:
    middle = polygon(False, (40, 40), (60, 40), (60, 60), (40, 60))
    error = refusal(wpl(TAKEOFF, row(16, 100, 100), RTL), fence=middle)
    assert error.location == "line 4 (item 1)", "the leg from item 0 to item 1 crosses it"
    error = refusal(wpl(TAKEOFF, row(16, 0, 100), row(16, 100, 100), RTL), fence=middle)
    assert error.location == "line 6 (item 3)"
    assert "the return from item 2 to home enters exclusion polygon 1" in error.message
    # Around the square, then back across it to item 1 (row 2), twice.
    loop = wpl(TAKEOFF, row(16, 0, 100), row(16, 100, 100), row(16, 100, 0), jump(2, 2), RTL)
    check_feasible(
        msgspec.structs.replace(loop, mission=[*loop.mission[:4], loop.mission[5]]), fence=middle
    )
    error = refusal(loop, fence=middle)
    assert error.location == "line 7 (item 4)"
    assert "the jump from item 3 to item 1 enters exclusion polygon 1" in error.message


def test_overlapping_inclusion_areas_make_one_fence() -> None:
    west = polygon(True, (-50, -50), (150, -50), (150, 60), (-50, 60))
    east = circle(True, 50, 100, 80)
    mission = wpl(*square())
    check_feasible(mission, fence=[*west, *east])
    error = refusal(mission, fence=west)
    assert "leaves inclusion polygon 1" in error.message
    error = refusal(wpl(TAKEOFF, row(16, 100, 0), row(16, 100, 300), RTL), fence=[*west, *east])
    assert "leaves every inclusion area (polygon 1, circle 1)" in error.message


def test_the_plans_own_fence_wins_over_the_vehicles() -> None:
    mission = msgspec.structs.replace(wpl(*square()), fence=circle(False, 100, 50, 20))
    error = refusal(mission, fence=circle(True, 0, 0, 1000))
    assert "of the plan's geofence" in error.message
    check_feasible(msgspec.structs.replace(mission, fence=circle(True, 0, 0, 1000)))


def test_a_home_outside_the_inclusion_fence_is_the_first_legs_breach() -> None:
    away = circle(True, 500, 0, 450)
    error = refusal(wpl(row(mav_cmd.NAV_TAKEOFF, 100, 0), row(16, 200, 0), RTL), fence=away)
    assert error.location == "line 3 (item 0)"
    assert "the straight leg from home to item 0 leaves inclusion circle 1" in error.message
    # Without a home, the path starts at the first position.
    no_home = wpl(row(mav_cmd.NAV_TAKEOFF, 100, 0), row(16, 200, 0), RTL, home=None)
    check_feasible(no_home, fence=away)
    error = refusal(no_home, fence=circle(True, 500, 0, 300))
    assert "item 0 is outside inclusion circle 1" in error.message


def test_a_broken_fence_polygon_is_refused() -> None:
    two = polygon(True, (0, 0), (10, 0))
    with pytest.raises(MissionFileError, match=r"polygon 1 of the vehicle's geofence is not"):
        check_feasible(wpl(*square()), fence=two)


# --- files ---------------------------------------------------------------------------


def own(name: str) -> MissionFile:
    return parse_mission_file((OWN / name).read_bytes(), filename=name)


def test_the_projects_own_px4_files() -> None:
    error = refusal(own("px4_fence_crossing.plan"))
    assert error.location == "mission.items[2] (item 2)"
    assert "enters exclusion polygon 2 of the plan's geofence" in error.message
    error = refusal(own("px4_ardupilot_commands.waypoints"))
    assert error.location == "line 5 (item 2)"
    assert "command 18 (NAV_LOITER_TURNS) is not flown by PX4" in error.message
    error = refusal(own("px4_endless_loop.waypoints"))
    assert error.location == "line 7 (item 4)"
    assert "DO_JUMP repeat -1 loops for ever" in error.message
    check_feasible(own("px4_endless_loop.waypoints"), endless_loops=True)
    error = refusal(own("px4_terrain.plan"))
    assert error.location == "mission.items[1] (item 1)"
    assert "needs terrain data" in error.message


@pytest.mark.parametrize(
    "name",
    ["fence_and_rally.plan", "home_first.waypoints", "square.plan", "survey.plan",
     "takeoff_first.waypoints"],
)  # fmt: skip
def test_the_projects_files_that_fly_still_pass(name: str) -> None:
    check_feasible(own(name))


def test_the_handbooks_real_files(missions_dir: Path) -> None:
    """Every real file that parses passes, but for MAVSDK's Mission Planner sample: its
    RTL row is in frame 5, which PX4's mission upload refuses for an RTL."""
    for path in sorted(missions_dir.iterdir()):
        try:
            mission = parse_mission_file(path.read_bytes(), filename=path.name)
        except MissionFileError:
            continue
        if path.name == "mission_planner_sample.txt":
            error = refusal(mission)
            assert "command 20 (NAV_RETURN_TO_LAUNCH) has no position" in error.message
        else:
            check_feasible(mission)


# --- hostile input -------------------------------------------------------------------


def _item(rng: random.Random, seq: int, mission_type: int = 0) -> MissionItem:
    commands = [0, 16, 17, 18, 19, 20, 21, 22, 31, 82, 84, 93, 112, 177, 178, 189, 201, 206,
                218, 400, 4501, 5000, 5001, 5002, 5003, 5004, 5100, 65535]  # fmt: skip
    values = [0.0, 1.0, -1.0, 2.5, 1e9, -1e9, math.nan, math.inf, 3.0, 65536.0]
    return MissionItem(
        seq=seq,
        frame=rng.choice([0, 1, 2, 3, 5, 6, 10, 11, 12, 255]),
        command=rng.choice(commands),
        current=int(seq == 0),
        autocontinue=1,
        param1=rng.choice([*values, float(rng.randrange(-2, 12))]),
        param2=rng.choice(values),
        param3=rng.choice(values),
        param4=rng.choice(values),
        x=rng.choice(
            [0, 900_000_000, -900_000_000, 2**31 - 1, rng.randrange(469_990_000, 470_010_000)]
        ),
        y=rng.choice([0, 1_800_000_000, -1_800_000_000, rng.randrange(79_990_000, 80_010_000)]),
        z=rng.choice([*values, 20.0]),
        mission_type=mission_type,
    )


def test_random_items_and_fences_are_refused_or_pass_never_crash() -> None:
    """Items no parser made (an agent's job from anywhere): whatever they hold, the check
    answers with a ``MissionFileError`` naming an item, or lets them pass."""
    rng = random.Random(1042)  # noqa: S311 - reproducible test data, not a secret
    outcomes = {"passed": 0, "refused": 0}
    for _ in range(3000):
        n = rng.randrange(1, 12)
        mission = [_item(rng, seq) for seq in range(n)]
        fence = [_item(rng, seq, 1) for seq in range(rng.randrange(0, 6))]
        home = rng.choice([None, HOME, (90.0, 180.0, math.nan), (math.nan, math.nan, math.nan)])
        file = MissionFile(format="wpl", mission=mission, fence=[], rally=[], home=home)
        try:
            check_feasible(file, fence=fence, endless_loops=rng.random() < 0.5)
        except MissionFileError as exc:
            where = exc.location
            outcomes["refused"] += 1
        else:
            where = "mission (item "
            outcomes["passed"] += 1
        assert where.startswith(("mission (item ", "geofence")), where
    assert outcomes["passed"] > 0 and outcomes["refused"] > 0, outcomes


def test_fences_at_the_edges_of_the_map() -> None:
    """A fence across the antimeridian, and one at a pole, hold as anywhere else."""

    def item(command: int, lat: float, lon: float, p1: float) -> MissionItem:
        return MissionItem(
            seq=0, frame=0, command=command, current=0, autocontinue=0, param1=p1, param2=0,
            param3=0, param4=0, x=round(lat * 1e7), y=round(lon * 1e7), z=0, mission_type=1,
        )  # fmt: skip

    def mission(*points: tuple[float, float]) -> MissionFile:
        items = [
            MissionItem(
                seq=i,
                frame=3,
                command=16 if i else 22,
                current=int(i == 0),
                autocontinue=1,
                param1=0,
                param2=0,
                param3=0,
                param4=0,
                x=round(lat * 1e7),
                y=round(lon * 1e7),
                z=20,
                mission_type=0,
            )
            for i, (lat, lon) in enumerate(points)
        ]
        return MissionFile(format="wpl", mission=items, fence=[], rally=[], home=None)

    inc = mav_cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION
    across = [item(inc, lat, lon, 4) for lat, lon in [(-1, 179), (-1, -179), (1, -179), (1, 179)]]
    check_feasible(mission((0, 179.9), (0, -179.9)), fence=across)
    error = refusal(mission((0, 179.9), (0, 178.0)), fence=across)
    assert "leaves inclusion polygon 1" in error.message
    pole = [item(mav_cmd.NAV_FENCE_CIRCLE_EXCLUSION, 90, 0, 1000)]
    check_feasible(mission((89.9, 0), (89.9, 10)), fence=pole)
    error = refusal(mission((89.9, 0), (89.999, 0)), fence=pole)
    assert "enters exclusion circle 1" in error.message
