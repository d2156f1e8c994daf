"""Mission files as each tool writes them, read as that tool means them (issue 10).

The files in ``tests/missions`` named for a tool (``mavproxy_``, ``mission_planner_``,
``ardupilot_``, ``qgc_``) are written in that tool's shape; each test says what the file
parses to, or where and why it is refused. The rules themselves are documented in
``shared/mission/wpl.py`` and ``shared/mission/qgc_plan.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from shared.mission import MissionFile, MissionFileError, parse_mission_file
from shared.mission.feasibility import check_feasible

OWN = Path(__file__).resolve().parents[1] / "missions"
HEADER = "QGC WPL 110\n"
HOME = "0\t0\t0\t16\t0\t0\t0\t0\t47.6\t9.4\t400\t1\n"


def parse(name: str) -> MissionFile:
    return parse_mission_file((OWN / name).read_bytes(), filename=name)


def refused(data: bytes | str) -> MissionFileError:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(MissionFileError) as info:
        parse_mission_file(raw)
    return info.value


def row(index: int, command: int = 16, *, frame: int = 3, p1: str = "0",
        lat: str = "47.6", lon: str = "9.4", alt: str = "20") -> str:  # fmt: skip
    return f"{index}\t0\t{frame}\t{command}\t{p1}\t0\t0\t0\t{lat}\t{lon}\t{alt}\t1\n"


# --- WPL: row 0 is the home ------------------------------------------------------------------


def test_mavproxy_home_row_with_current_0_is_the_home_not_a_waypoint() -> None:
    plan = parse("mavproxy_home_current0.waypoints")
    assert plan.home == (47.654321, 9.178456, 402.5)
    assert [i.command for i in plan.mission] == [22, 16, 16, 16, 20]
    takeoff = plan.mission[0]
    assert (takeoff.seq, takeoff.current, takeoff.frame, takeoff.z) == (0, 1, 3, 28.0)
    assert plan.locations[0] == "line 3"
    # no item flies to the home's position at its altitude above sea level (the dip)
    assert all(i.z != 402.5 for i in plan.mission)


def test_mission_planner_command_0_home_row_and_crlf() -> None:
    plan = parse("mission_planner_home_cmd0.waypoints")
    assert plan.home == (47.502173, 8.725564, 441.27)
    assert [i.command for i in plan.mission] == [22, 16, 16, 20]
    assert (plan.mission[0].x, plan.mission[0].y, plan.mission[0].z) == (475021730, 87255640, 30)


def test_a_takeoff_at_0_0_climbs_from_the_home() -> None:
    """Mission Planner and MAVProxy write a takeoff's position as 0, 0 (ArduPilot climbs
    where it stands); PX4 would read 0 deg, 0 deg. With a home in the file it is placed
    there; without one it stays unplaced, and no check takes it for a place."""
    home = "0\t1\t0\t16\t0\t0\t0\t0\t47.5\t8.7\t441\t1\n"
    rows = row(1, 22, lat="0", lon="0", alt="25") + row(2, lat="47.501", lon="8.7")
    plan = parse_mission_file(f"QGC WPL 110\n{home}{rows}".encode())
    assert (plan.mission[0].x, plan.mission[0].y, plan.mission[0].z) == (475000000, 87000000, 25)
    check_feasible(plan)
    no_home = "0\t1\t0\t16\t0\t0\t0\t0\t0\t0\t0\t1\n"
    plan = parse_mission_file(f"QGC WPL 110\n{no_home}{rows}".encode())
    assert (plan.mission[0].x, plan.mission[0].y) == (0, 0)
    check_feasible(plan)  # not "the first waypoint is 5,000 km from home"


def test_home_altitude_is_unknown_in_a_relative_frame() -> None:
    plan = parse("home_relative_frame.waypoints")
    assert plan.home is not None
    assert plan.home[:2] == (47.6123, 9.4211) and math.isnan(plan.home[2])
    assert [i.command for i in plan.mission] == [22, 16]


@pytest.mark.parametrize(
    ("home_row", "home"),
    [
        ("0\t1\t0\t16\t0\t0\t0\t0\t47.6\t9.4\t400\t1\n", (47.6, 9.4, 400.0)),  # QGroundControl
        ("0\t0\t5\t16\t0\t0\t0\t0\t47.6\t9.4\t400\t1\n", (47.6, 9.4, 400.0)),  # GLOBAL_INT
        ("0\t1\t0\t0\t0\t0\t0\t0\t47.6\t9.4\t400\t1\n", (47.6, 9.4, 400.0)),  # command 0
        ("0\t1\t0\t16\t0\t0\t0\t0\t0\t0\t400\t1\n", None),  # 0, 0: no home position
        ("0\t1\t0\t16\t0\t0\t0\t0\t47.6\t9.4\tnan\t1\n", (47.6, 9.4, math.nan)),
    ],
)
def test_home_row_shapes(home_row: str, home: tuple[float, float, float] | None) -> None:
    plan = parse_mission_file((HEADER + home_row + row(1, 22)).encode())
    assert [i.command for i in plan.mission] == [22]
    if home is None or plan.home is None:
        assert plan.home is home
    else:
        assert plan.home[:2] == home[:2]
        assert plan.home[2] == home[2] or (math.isnan(plan.home[2]) and math.isnan(home[2]))


def test_a_home_row_alone_is_refused_saying_so() -> None:
    error = refused((OWN / "ardupilot_home_only.waypoints").read_bytes())
    assert error.location == "file"
    assert (
        error.message == "the file holds only the home position (row 0, line 2), no mission items"
    )


def test_a_row_0_that_is_not_a_home_row_is_refused() -> None:
    error = refused(HEADER + row(0, 22) + row(1))
    assert error.location == "line 2, column 4 (command)"
    assert "NAV_TAKEOFF (command 22)" in error.message
    assert "MAVSDK would fly it" in error.message


# --- WPL: comments and renumbering ----------------------------------------------------------


def test_comments_are_skipped_and_rows_renumbered_by_position() -> None:
    plan = parse("ardupilot_comments_renumbered.waypoints")
    assert plan.home == (47.6123, 9.4211, 398.0)
    assert [i.command for i in plan.mission] == [22, 16, 16, 177, 21]
    assert [i.seq for i in plan.mission] == [0, 1, 2, 3, 4]
    assert plan.locations == ["line 5", "line 7", "line 8", "line 10", "line 11"]
    jump = plan.mission[3]
    # param1 2 is row position 2 (home = 0), the row whose index column says 5: item 1
    assert (jump.param1, jump.param2) == (1.0, 2.0)


def test_an_error_after_comments_names_the_line_an_editor_shows() -> None:
    text = HEADER + "# home\n" + HOME + "  # indented comment\n\n" + row(7, lat="95")
    assert refused(text).location == "line 6, column 9 (latitude)"


def test_a_comment_before_the_header_is_refused() -> None:
    error = refused("# saved by hand\n" + HEADER + HOME + row(1))  # pymavlink refuses it too
    assert error.location == "file" and "neither" in error.message


@pytest.mark.parametrize(
    ("p1", "words"),
    [("0", "is the home row (line 2)"), ("2", "is a fence row (line 4)"),
     ("9", "is no row of the file")],
)  # fmt: skip
def test_do_jump_targets_are_row_positions(p1: str, words: str) -> None:
    text = HEADER + HOME + row(1) + row(2, 5003, frame=0, p1="50") + row(3, 177, frame=2, p1=p1)
    error = refused(text)
    assert error.location == "line 5, column 5 (param1)"
    assert words in error.message


# --- WPL: fence and rally rows ----------------------------------------------------------------


def test_a_fence_file_is_refused_as_a_mission_saying_what_it_is() -> None:
    error = refused((OWN / "fence_only.waypoints").read_bytes())
    assert error.location == "file"
    assert error.message == (
        "this is a geofence file (1 fence polygon, 1 fence circle, 1 fence return point), "
        "not a mission: it has no mission items to fly"
    )


def test_a_rally_file_is_refused_as_a_mission_saying_what_it_is() -> None:
    error = refused((OWN / "rally_only.waypoints").read_bytes())
    assert error.location == "file"
    assert error.message.startswith("this is a rally point file (2 rally points), not a mission")


def test_fence_and_rally_rows_are_never_mission_items() -> None:
    plan = parse("mission_fence_rally_mixed.waypoints")
    assert [i.command for i in plan.mission] == [22, 16, 16, 177, 20]
    assert plan.mission[3].param1 == 2.0  # row 3 is the second waypoint: item 2
    assert plan.locations == ["line 3", "line 4", "line 5", "line 8", "line 9"]
    (circle,) = plan.fence
    assert (circle.command, circle.frame, circle.param1, circle.z, circle.mission_type) == (
        5003, 0, 400.0, 0.0, 1,
    )  # fmt: skip
    (rally,) = plan.rally
    assert (rally.command, rally.frame, rally.z, rally.mission_type, rally.seq) == (
        5100,
        3,
        20,
        2,
        0,
    )
    assert plan.summary() == "5 items, 1 fence circle, 1 rally point"


def test_fence_rows_take_the_shape_the_plan_reader_gives_them() -> None:
    corners = [("47.1", "9.1"), ("47.1", "9.2"), ("47.2", "9.2"), ("47.2", "9.1")]
    fence = [
        row(n, 5001, frame=3, p1="4", lat=lat, lon=lon, alt="12")
        for n, (lat, lon) in enumerate(corners, 3)
    ]
    ret = row(7, 5000, frame=3, lat="47.15", lon="9.15", alt="30")
    plan = parse_mission_file((HEADER + HOME + row(1, 22) + row(2) + "".join(fence) + ret).encode())
    assert [(i.seq, i.command, i.frame, i.param1, i.z, i.autocontinue) for i in plan.fence] == [
        (0, 5001, 0, 4.0, 0.0, 0), (1, 5001, 0, 4.0, 0.0, 0), (2, 5001, 0, 4.0, 0.0, 0),
        (3, 5001, 0, 4.0, 0.0, 0), (4, 5000, 3, 0.0, 30.0, 0),
    ]  # fmt: skip
    assert [i.current for i in plan.fence] == [1, 0, 0, 0, 0]
    assert plan.summary() == "2 items, 1 fence polygon, 1 fence return point"


def _vertices(count: int, rows: int, start: int = 2, command: int = 5001) -> str:
    return "".join(row(start + n, command, frame=0, p1=str(count)) for n in range(rows))


@pytest.mark.parametrize(
    ("fence", "location", "words"),
    [
        (_vertices(4, 3), "line 5", "has only 3 vertices"),
        (_vertices(4, 2) + row(4, 5003, frame=0, p1="20"), "line 5", "ends after 2 vertices"),
        (_vertices(4, 2) + _vertices(4, 2, 4, 5002), "line 5", "ends after 2 vertices"),
        (_vertices(2, 2), "line 3, column 5 (param1)", "(3 or more), not 2.0"),
        (row(2, 5003, frame=0, p1="0"), "line 3, column 5 (param1)", "radius 0.0 m"),
        (row(2, 5000, frame=0) + row(3, 5000, frame=0), "line 4, column 4 (command)",
         "one return point; the first is at line 3"),
        (row(2, 5003, frame=2, p1="20"), "line 3, column 3 (frame)", "needs a global frame"),
        (row(2, 5100, frame=1), "line 3, column 3 (frame)", "needs a global frame"),
        (row(2, 5003, frame=0, p1="20", lat="91"), "line 3, column 9 (latitude)", "latitude 91"),
    ],
)  # fmt: skip
def test_fence_and_rally_rules(fence: str, location: str, words: str) -> None:
    error = refused(HEADER + HOME + fence + row(9, 22))
    assert error.location == location
    assert words in error.message


def test_fence_and_rally_files_without_a_home_row() -> None:
    # MAVProxy's fence and rally lists have no home row: row 0 is their first item.
    text = HEADER + _vertices(3, 3, 0) + row(3, 5100) + row(4, 22) + row(5)
    plan = parse_mission_file(text.encode())
    assert plan.home is None
    assert [i.command for i in plan.mission] == [22, 16]
    assert (len(plan.fence), len(plan.rally)) == (3, 1)


# --- .plan: versions QGroundControl still loads ---------------------------------------------


def _doc(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((OWN / name).read_text())
    return doc


def _text(doc: dict[str, Any]) -> str:
    return json.dumps(doc)


def test_survey_version_4_uses_its_generated_items() -> None:
    plan = parse("qgc_survey_v4.plan")
    assert [i.command for i in plan.mission] == [22, 16, 206, 16, 206, 16, 206, 16, 206, 20]
    assert (plan.mission[1].x, plan.mission[1].y, plan.mission[1].z) == (470602000, 83002000, 50)
    assert plan.locations[1] == "mission.items[1].TransectStyleComplexItem.Items[0]"
    assert plan.home == (47.06, 8.3, 441.0)


@pytest.mark.parametrize("version", [2, 3])
def test_survey_versions_without_generated_items_ask_for_qgroundcontrol(version: int) -> None:
    doc = _doc("qgc_survey_v3.plan")
    doc["mission"]["items"][1]["version"] = version
    error = refused(_text(doc))
    assert error.location == "mission.items[1].version"
    assert f"a survey of version {version} stores no generated items" in error.message
    assert "open and save the plan in QGroundControl" in error.message


@pytest.mark.parametrize(("version", "flies"), [(1, False), (2, True), (3, True), (4, False)])
def test_corridor_scan_versions(version: int, flies: bool) -> None:
    doc = _doc("qgc_survey_v4.plan")
    doc["mission"]["items"][1].update(complexItemType="CorridorScan", version=version)
    if flies:
        assert len(parse_mission_file(_text(doc).encode()).mission) == 10
    else:
        error = refused(_text(doc))
        assert error.location == "mission.items[1].version"
        assert error.message == f"CorridorScan version {version} is not supported (supported: 2, 3)"


def test_older_simple_items_with_a_coordinate() -> None:
    plan = parse("qgc_simpleitem_coordinate.plan")
    assert [i.command for i in plan.mission] == [22, 16, 19, 177, 20]
    takeoff = plan.mission[0]
    assert (takeoff.frame, takeoff.param1, takeoff.x, takeoff.y, takeoff.z) == (
        3, 15.0, 470410000, 83320000, 35.0,
    )  # fmt: skip
    assert plan.mission[2].param1 == 10.0  # loiter time
    assert (plan.mission[3].param1, plan.mission[3].param2) == (1.0, 1.0)  # doJumpId 2: item 1
    assert (plan.fence, plan.rally) == ([], [])  # QGroundControl 3.2's empty version 1 sections


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"coordinate": [91, 8.3, 35]}, "mission.items[1].coordinate[0]"),
        ({"coordinate": [47.04, 8.33, None]}, "mission.items[1].coordinate[2]"),
        ({"coordinate": [47.04, 8.33]}, "mission.items[1].coordinate"),
        ({"params": [0, 0, 0, 0, 47.04, 8.33, 35]}, "mission.items[1].params"),
    ],
)
def test_older_simple_item_rules(change: dict[str, Any], location: str) -> None:
    doc = _doc("qgc_simpleitem_coordinate.plan")
    doc["mission"]["items"][1].update(change)
    assert refused(_text(doc)).location == location


def test_mission_version_1_in_the_version_2_layout_is_read() -> None:
    doc = _doc("square.plan")
    doc["mission"]["version"] = 1
    assert len(parse_mission_file(_text(doc).encode()).mission) == 7
    doc["mission"]["complexItems"] = []
    error = refused(_text(doc))
    assert error.location == "mission.version"
    assert "older .mission layout" in error.message
    doc["mission"]["version"] = 2  # QGroundControl ignores a key it does not know
    assert len(parse_mission_file(_text(doc).encode()).mission) == 7


# --- .plan: home, fence and rally sections ---------------------------------------------------


def test_planned_home_with_a_null_altitude_is_the_vehicles_home() -> None:
    plan = parse("qgc_home_null_alt.plan")
    assert plan.home is not None
    assert plan.home[:2] == (47.0502, 8.3093) and math.isnan(plan.home[2])
    assert [i.command for i in plan.mission] == [22, 16, 16, 20]


@pytest.mark.parametrize(
    ("home", "expected"),
    [([None, None, None], None), ([0, 0, 400], None), ([47.1, 8.3, 500], (47.1, 8.3, 500.0))],
)
def test_planned_home_without_a_position(home: list[Any], expected: object) -> None:
    doc = _doc("qgc_home_null_alt.plan")
    doc["mission"]["plannedHomePosition"] = home
    assert parse_mission_file(_text(doc).encode()).home == expected


@pytest.mark.parametrize(
    ("home", "location"),
    [([47.1, None, 400], "mission.plannedHomePosition[1]"),
     ([47.1, 8.3, 1e9], "mission.plannedHomePosition[2]")],
)  # fmt: skip
def test_planned_home_rules(home: list[Any], location: str) -> None:
    doc = _doc("qgc_home_null_alt.plan")
    doc["mission"]["plannedHomePosition"] = home
    assert refused(_text(doc)).location == location


def test_fence_without_a_version_is_no_fence_when_empty() -> None:
    plan = parse("qgc_fence_no_version.plan")
    assert (plan.fence, len(plan.mission)) == ([], 3)


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ("geoFence", {"polygons": [{"inclusion": True, "polygon": [[1, 2], [1, 3], [2, 3]]}]}),
        ("geoFence", {"version": 1, "polygon": [[1, 2], [1, 3], [2, 3]]}),
        ("rallyPoints", {"points": [[47.05, 8.31, 20]]}),
        ("rallyPoints", {"version": 1, "points": [[47.05, 8.31, 20]]}),
    ],
)
def test_unversioned_fence_or_rally_that_holds_something_is_refused(
    section: str, value: dict[str, Any]
) -> None:
    doc = _doc("qgc_fence_no_version.plan")
    doc[section] = value
    error = refused(_text(doc))
    assert error.location == f"{section}.version"
    assert "QGroundControl does not read" in error.message


def test_rally_points_without_a_version_are_none_when_empty() -> None:
    doc = _doc("qgc_fence_no_version.plan")
    doc["rallyPoints"] = {"points": []}
    assert parse_mission_file(_text(doc).encode()).rally == []


def test_breach_return_is_the_fences_last_item_as_qgroundcontrol_sends_it() -> None:
    doc = _doc("fence_and_rally.plan")
    doc["geoFence"]["breachReturn"] = [52.5195, 13.4045, 30]
    plan = parse_mission_file(_text(doc).encode())
    last = plan.fence[-1]
    assert (last.seq, last.command, last.frame, last.x, last.y, last.z) == (
        8, 5000, 3, 525195000, 134045000, 30.0,
    )  # fmt: skip
    assert plan.summary() == (
        "3 items, 2 fence polygons, 1 fence circle, 1 fence return point, 2 rally points"
    )


# --- .plan: missing altitudes and terrain frames ----------------------------------------------


def test_above_terrain_item_without_altitude_says_why() -> None:
    error = refused((OWN / "qgc_above_terrain_null_alt.plan").read_bytes())
    assert error.location == "mission.items[1].params[6]"
    assert "'above terrain'" in error.message and "no terrain data" in error.message
    assert "set a relative altitude" in error.message
    assert "nan" not in error.message


def test_null_altitude_of_another_item_still_says_what_qgroundcontrol_meant() -> None:
    doc = _doc("qgc_above_terrain_null_alt.plan")
    doc["mission"]["items"][1]["AltitudeMode"] = 2
    error = refused(_text(doc))
    assert error.location == "mission.items[1].params[6]"
    assert error.message.startswith("altitude is missing (null): QGroundControl leaves it empty")


def test_terrain_following_survey_item_without_altitude_says_why() -> None:
    doc = _doc("qgc_survey_v4.plan")
    transect = doc["mission"]["items"][1]["TransectStyleComplexItem"]
    transect["FollowTerrain"] = True
    transect["Items"][2]["params"][6] = None
    error = refused(_text(doc))
    assert error.location == "mission.items[1].TransectStyleComplexItem.Items[2].params[6]"
    assert "'above terrain'" in error.message


@pytest.mark.parametrize("frame", [10, 11])
def test_terrain_frames_are_read_as_valid_mavlink(frame: int) -> None:
    doc = _doc("square.plan")
    doc["mission"]["items"][1]["frame"] = frame
    assert parse_mission_file(_text(doc).encode()).mission[1].frame == frame
    wpl = HEADER + HOME + row(1, 22) + row(2, frame=frame)
    assert parse_mission_file(wpl.encode()).mission[1].frame == frame
