"""Mission files as people bring them: the handbook's real files and the project's own.

The real files (MAVSDK's test plans) are read where they are, beside the checkout; the
tests that need them skip saying so when they are absent. The project's own files in
``tests/missions`` cover what those do not: DO_JUMP, fences, rally points, both WPL flavours.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from shared.mission import MissionFile, MissionFileError, MissionItem, parse_mission_file

OWN = Path(__file__).resolve().parents[1] / "missions"


def parse(path: Path) -> MissionFile:
    return parse_mission_file(path.read_bytes(), filename=path.name)


def refused(data: bytes | str) -> MissionFileError:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(MissionFileError) as info:
        parse_mission_file(raw)
    error = info.value
    assert str(error) == f"{error.location}: {error.message}"
    return error


# --- the handbook's real files ------------------------------------------------------------


def test_qgroundcontrol_sample(missions_dir: Path) -> None:
    plan = parse(missions_dir / "qgroundcontrol_sample.plan")
    assert plan.format == "qgc_plan"
    assert len(plan.mission) == 6
    assert [i.seq for i in plan.mission] == list(range(6))
    first, last = plan.mission[0], plan.mission[-1]
    assert (first.command, first.frame, first.current, first.x, first.y, first.z) == (
        22, 3, 1, 473977507, 85456075, 50.0,
    )  # fmt: skip
    assert first.param1 == 15 and math.isnan(first.param4)  # null is NaN
    assert (last.command, last.frame, last.current) == (20, 2, 0)
    assert plan.home == (47.3977507, 8.5456075, 488.93101752001763)
    assert plan.cruise_speed_m_s == 5  # hoverSpeed: the vehicle is a quadrotor
    assert plan.fence == [] and plan.rally == []


def test_survey_uses_the_generated_items(missions_dir: Path) -> None:
    plan = parse(missions_dir / "qgroundcontrol_sample_with_survey.plan")
    assert len(plan.mission) == 13  # the gimbal item + the survey's 12 generated items
    assert plan.mission[0].command == 530
    assert (plan.mission[1].command, plan.mission[1].x, plan.mission[1].y) == (
        16, 473977060, 85463397,
    )  # fmt: skip
    assert (plan.mission[-1].seq, plan.mission[-1].command, plan.mission[-1].param3) == (
        12, 206, 1.0,
    )  # fmt: skip


def test_digicam_control(missions_dir: Path) -> None:
    plan = parse(missions_dir / "qgroundcontrol_sample_with_digicam_control.plan")
    assert len(plan.mission) == 1
    only = plan.mission[0]
    assert (only.command, only.frame, only.param1, only.x, only.current) == (203, 2, 1.0, 1, 1)


def test_mission_planner_sample_is_refused_for_its_takeoff_in_row_0(missions_dir: Path) -> None:
    # Row 0 of a WPL file is the home for QGroundControl, Mission Planner and ArduPilot (they
    # would drop this takeoff); MAVSDK would fly it. The file means two things: refused.
    error = refused((missions_dir / "mission_planner_sample.txt").read_bytes())
    assert error.location == "line 2, column 4 (command)"
    assert "home position" in error.message and "NAV_TAKEOFF (command 22)" in error.message


@pytest.mark.parametrize(
    ("name", "location", "words"),
    [
        ("qgroundcontrol_sample_with_structured_scan.plan", "mission.items[1].complexItemType",
         "StructureScan is not supported"),
        ("qgroundcontrol_sample_with_survey_missing_items.plan",
         "mission.items[1].TransectStyleComplexItem.Items", "generated items are missing"),
        ("qgroundcontrol_sample_with_survey_wrong_version.plan", "mission.items[1].version",
         "survey version 9 is not supported (supported: 4, 5)"),
        ("qgroundcontrol_sample_without_mission.plan", "mission", "has no mission"),
        ("qgroundcontrol_sample_wrong_mission_version.plan", "mission.version",
         "mission version 7 is not supported (supported: 1, 2)"),
        ("qgroundcontrol_sample_wrong_overall_version.plan", "version",
         "version 42 is not supported (supported: 1)"),
    ],
)  # fmt: skip
def test_broken_real_files_are_refused_saying_where(
    missions_dir: Path, name: str, location: str, words: str
) -> None:
    error = refused((missions_dir / name).read_bytes())
    assert error.location == location
    assert words in error.message


def test_every_real_file_is_covered(missions_dir: Path) -> None:
    names = {p.name for p in missions_dir.iterdir() if p.suffix in (".plan", ".txt")}
    assert len(names) == 10, names


# --- the project's own files ----------------------------------------------------------------


def test_square_with_a_jump() -> None:
    plan = parse(OWN / "square.plan")
    assert [i.command for i in plan.mission] == [22, 16, 16, 16, 16, 177, 20]
    jump = plan.mission[5]
    # The file names the target by doJumpId 2; the vehicle gets its sequence number, 1.
    assert (jump.param1, jump.param2) == (1.0, 1.0)
    assert plan.mission[1].x == 469490000
    assert plan.home == (46.948, 7.4474, 540.0)
    assert plan.cruise_speed_m_s == 7


def test_survey_between_takeoff_and_rtl() -> None:
    plan = parse(OWN / "survey.plan")
    assert len(plan.mission) == 1 + 12 + 1
    assert plan.mission[0].command == 22 and plan.mission[-1].command == 20
    assert [i.command for i in plan.mission[1:5]] == [16, 206, 16, 206]
    assert plan.cruise_speed_m_s == 12  # a fixed wing: cruiseSpeed


def test_fence_and_rally() -> None:
    plan = parse(OWN / "fence_and_rally.plan")
    assert plan.summary() == "3 items, 2 fence polygons, 1 fence circle, 2 rally points"
    assert [i.command for i in plan.fence] == [5001] * 4 + [5002] * 3 + [5004]
    assert [i.param1 for i in plan.fence] == [4.0] * 4 + [3.0] * 3 + [25.5]
    assert {i.mission_type for i in plan.fence} == {1}
    assert [i.seq for i in plan.fence] == list(range(8))
    assert plan.rally[1] == MissionItem(
        seq=1, frame=3, command=5100, current=0, autocontinue=0,
        param1=0, param2=0, param3=0, param4=0, x=525208000, y=134061000, z=30.0, mission_type=2,
    )  # fmt: skip


def test_wpl_with_home_row() -> None:
    plan = parse(OWN / "home_first.waypoints")
    assert plan.home == (46.948, 7.4474, 540.0)
    assert [i.command for i in plan.mission] == [22, 16, 16, 177, 20]
    assert plan.mission[0].current == 1 and plan.mission[0].seq == 0
    assert plan.mission[3].param1 == 1.0  # row 2 of the file is mission item 1
    assert math.isnan(plan.mission[1].param4)


def test_wpl_home_at_0_0_is_no_home_and_spaces_separate_fields() -> None:
    plan = parse(OWN / "takeoff_first.waypoints")
    assert plan.home is None  # Mission Planner's "no home position"
    assert [i.command for i in plan.mission] == [22, 16, 16, 21]
    assert plan.summary() == "4 items"


# --- rules, each refused where it is broken ---------------------------------------------------

SQUARE = (OWN / "square.plan").read_text()
WPL_HEADER = "QGC WPL 110\n"
HOME = "0\t1\t0\t16\t0\t0\t0\t0\t46.9\t7.4\t500\t1\n"


def row(index: int, *, current: int = 0, frame: str = "3", command: str = "16",
        p: str = "0\t0\t0\t0", lat: str = "46.9", lon: str = "7.4", alt: str = "20",
        auto: str = "1") -> str:  # fmt: skip
    return f"{index}\t{current}\t{frame}\t{command}\t{p}\t{lat}\t{lon}\t{alt}\t{auto}\n"


@pytest.mark.parametrize(
    ("text", "location"),
    [
        (WPL_HEADER + row(0, lat="91"), "line 2, column 9 (latitude)"),  # the home's
        (WPL_HEADER + row(0, lon="-180.5"), "line 2, column 10 (longitude)"),
        (WPL_HEADER + row(0, frame="0", alt="1e9"), "line 2, column 11 (altitude)"),
        (WPL_HEADER + row(0, command="22"), "line 2, column 4 (command)"),  # not a home row
        (WPL_HEADER + HOME + row(1, lat="91"), "line 3, column 9 (latitude)"),
        (WPL_HEADER + HOME + row(1, lon="-180.5"), "line 3, column 10 (longitude)"),
        (WPL_HEADER + HOME + row(1, alt="nan"), "line 3, column 11 (altitude)"),
        (WPL_HEADER + HOME + row(1, alt="1e9"), "line 3, column 11 (altitude)"),
        (WPL_HEADER + HOME + row(1, frame="1"), "line 3, column 3 (frame)"),
        (WPL_HEADER + HOME + row(1, command="70000"), "line 3, column 4 (command)"),
        (WPL_HEADER + HOME + row(1, p="0\t0\t0\tinf"), "line 3, column 8 (param4)"),
        (WPL_HEADER + HOME + row(1, p="1_0\t0\t0\t0"), "line 3, column 5 (param1)"),
        (WPL_HEADER + HOME + row(1, lat="\uff14\uff16"), "line 3, column 9 (latitude)"),
        (WPL_HEADER + HOME + row(1, auto="2"), "line 3, column 12 (autocontinue)"),
        (WPL_HEADER + HOME + row(1, current=3), "line 3, column 2 (current)"),
        (WPL_HEADER + HOME + row(1) + row(2, frame="2", command="177", p="7\t1\t0\t0"),
         "line 4, column 5 (param1)"),
        (WPL_HEADER + HOME + row(1) + row(2, frame="2", command="177", p="0\t1\t0\t0"),
         "line 4, column 5 (param1)"),  # a jump to the home row
        (WPL_HEADER + "0\t1\t3\n", "line 2"),
        (WPL_HEADER, "file"),
        (WPL_HEADER + row(0, current=1, frame="0"), "file"),  # only a home
        ("QGC WPL 120\n" + row(0), "line 1"),
    ],
)  # fmt: skip
def test_wpl_rules(text: str, location: str) -> None:
    assert refused(text).location == location


def _square_with(path: tuple[str | int, ...], value: object) -> str:
    """square.plan with the value at ``path`` replaced (a key ``-`` deletes it)."""
    doc = json.loads(SQUARE)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value == "-":
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(doc)


ITEMS = ("mission", "items")
_POLYGON = {"inclusion": True, "polygon": [[1, 2]]}
_CIRCLE = {"inclusion": True, "circle": {"center": [1, 2], "radius": -1}}


@pytest.mark.parametrize(
    ("text", "location"),
    [
        (_square_with(("fileType",), "Mission"), "fileType"),
        (_square_with((*ITEMS, 1, "command"), "16"), "mission.items[1].command"),
        (_square_with((*ITEMS, 1, "command"), 16.5), "mission.items[1].command"),
        (_square_with((*ITEMS, 1, "command"), 10**30), "mission.items[1].command"),
        (_square_with((*ITEMS, 0, "frame"), 8), "mission.items[0].frame"),
        (_square_with((*ITEMS, 1, "params", 4), 146.9), "mission.items[1].params[4]"),
        (_square_with((*ITEMS, 1, "params", 4), None), "mission.items[1].params[4]"),
        (_square_with((*ITEMS, 1, "params"), [0, 0, 0]), "mission.items[1].params"),
        (_square_with((*ITEMS, 0, "params", 6), 1e300), "mission.items[0].params[6]"),
        (_square_with((*ITEMS, 0, "params", 0), 1e300), "mission.items[0].params[0]"),
        (_square_with((*ITEMS, 0, "autoContinue"), 1), "mission.items[0].autoContinue"),
        (_square_with((*ITEMS, 5, "params", 0), 9), "mission.items[5].params[0]"),
        (_square_with((*ITEMS, 3), "x"), "mission.items[3]"),
        (_square_with((*ITEMS, 3, "type"), "Other"), "mission.items[3].type"),
        (_square_with(ITEMS, []), "mission.items"),
        (_square_with(ITEMS, {}), "mission.items"),
        (_square_with(("mission", "version"), True), "mission.version"),
        (_square_with(("geoFence", "polygons"), [_POLYGON]), "geoFence.polygons[0].polygon"),
        (_square_with(("geoFence", "circles"), [_CIRCLE]), "geoFence.circles[0].circle.radius"),
        (_square_with(("rallyPoints", "points"), [[1, 200, 10]]), "rallyPoints.points[0][1]"),
        (_square_with(("geoFence", "version"), 3), "geoFence.version"),
        (_square_with(("rallyPoints", "version"), 7), "rallyPoints.version"),
        (_square_with(("mission", "plannedHomePosition"), [1, 2]), "mission.plannedHomePosition"),
        (_square_with(("mission", "hoverSpeed"), -7), "mission.hoverSpeed"),
        (_square_with(("mission",), "-"), "mission"),
        ("[1, 2, 3]", "file"),
        ('{"fileType": "Plan", "version": 1, "mission": {"version": 2, "items": '
         '[{"type": "ComplexItem", "complexItemType": "fwLandingPattern", "version": 1}]}}',
         "mission.items[0].complexItemType"),
    ],
)  # fmt: skip
def test_plan_rules(text: str, location: str) -> None:
    assert refused(text).location == location


def test_a_plan_without_geofence_or_rally_sections_is_fine() -> None:
    text = _square_with(("geoFence",), "-")
    plan = parse_mission_file(_square_with(("rallyPoints",), "-").encode())
    assert plan.rally == []
    plan = parse_mission_file(text.encode())
    assert (len(plan.mission), plan.fence, plan.rally) == (7, [], [])


def test_limits() -> None:
    items = [row(i) for i in range(1, 10_003)]
    error = refused(WPL_HEADER + HOME + "".join(items))  # 10,002 items after the home
    assert (error.location, error.message) == ("line 10003", "more than the 10000 items allowed")
    at_most = WPL_HEADER + HOME + "".join(items[:10_000])
    assert len(parse_mission_file(at_most.encode()).mission) == 10_000
    assert "MiB" in refused(b" " * (4 * 1024 * 1024 + 1)).message


# --- round trip ---------------------------------------------------------------------------------


def to_wpl(plan: MissionFile) -> str:
    """The items back as a WPL file as MAVProxy writes one: the home row first (0, 0 when
    unknown), the mission, then any fence and rally rows."""
    lat, lon, alt = plan.home or (0.0, 0.0, 0.0)
    lines = [WPL_HEADER.strip(), f"0\t0\t0\t16\t0\t0\t0\t0\t{lat!r}\t{lon!r}\t{alt!r}\t1"]
    for n, i in enumerate([*plan.mission, *plan.fence, *plan.rally], 1):
        is_global = i.frame != 2
        x = i.x / 1e7 if is_global else float(i.x)
        y = i.y / 1e7 if is_global else float(i.y)
        p1 = i.param1 + 1 if i.command == 177 else i.param1  # a row position: home is row 0
        fields = [p1, i.param2, i.param3, i.param4, x, y, i.z]
        lines.append("\t".join([str(n), "0", str(i.frame), str(i.command)]
                               + [repr(f) for f in fields] + [str(i.autocontinue)]))  # fmt: skip
    return "\n".join(lines) + "\n"


def _same(a: MissionItem, b: MissionItem) -> bool:
    fields = ("param1", "param2", "param3", "param4", "z")
    return all(
        getattr(a, f) == getattr(b, f) or (math.isnan(getattr(a, f)) and math.isnan(getattr(b, f)))
        for f in fields
    ) and (a.seq, a.frame, a.command, a.current, a.autocontinue, a.x, a.y) == (
        b.seq, b.frame, b.command, b.current, b.autocontinue, b.x, b.y,
    )  # fmt: skip


def _flies(path: Path) -> bool:
    try:
        parse(path)
    except MissionFileError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(p.name for p in OWN.iterdir() if _flies(p)))
def test_round_trip_through_wpl(name: str) -> None:
    plan = parse(OWN / name)
    again = parse_mission_file(to_wpl(plan).encode())
    assert (again.home is None) == (plan.home is None)
    if plan.home is not None and again.home is not None:
        assert again.home[:2] == plan.home[:2]
        assert again.home[2] == plan.home[2] or math.isnan(again.home[2]) == math.isnan(
            plan.home[2]
        )
    for ours, theirs in ((plan.mission, again.mission), (plan.fence, again.fence),
                         (plan.rally, again.rally)):  # fmt: skip
        assert len(ours) == len(theirs)
        assert all(_same(a, b) for a, b in zip(ours, theirs, strict=True))


def test_wpl_line_numbers_count_leading_blank_lines_and_crlf() -> None:
    text = "\r\n\r\n" + WPL_HEADER.replace("\n", "\r\n") + row(0) + row(1, lat="95")
    assert refused(text).location == "line 5, column 9 (latitude)"
    plan = parse_mission_file((WPL_HEADER + row(0) + "\n\n" + row(1) + row(2)).encode())
    assert plan.locations == ["line 5", "line 6"]


def test_summary_of_many_fence_polygons_is_quick() -> None:
    polygon = {"inclusion": True, "polygon": [[1, 2], [1, 3], [2, 3]]}
    doc = json.loads(SQUARE)
    doc["geoFence"]["polygons"] = [polygon] * 3_000
    plan = parse_mission_file(json.dumps(doc).encode())
    assert plan.summary() == "7 items, 3000 fence polygons"
