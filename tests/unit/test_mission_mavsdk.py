"""Our items against MAVSDK's own importer, field by field: an independent reference.

MAVSDK's ``MissionRaw`` importers need a ``System``, which needs a vehicle; a ``raw://``
connection fed one PX4 HEARTBEAT (built with pymavlink) is enough, nothing is sent anywhere.

Known, deliberate differences (see ``shared/mission``): MAVSDK passes a .plan DO_JUMP's
param1 (the target's doJumpId) through unchanged, where QGroundControl uploads the target's
sequence number, as we do; MAVSDK keeps a WPL file's row 0 as an item for PX4, where we read
it as QGroundControl, Mission Planner and ArduPilot do, as the home (and refuse a row 0 that
is not a home row, such as the takeoff in MAVSDK's own sample); MAVSDK's WPL importer reads
tab-separated rows only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.mission import MissionItem, parse_mission_file

mavsdk = pytest.importorskip("mavsdk", reason="MAVSDK is part of the agent extra")
pytest.importorskip("pymavlink", reason="pymavlink is part of the sim extra")

from mavsdk.plugins.mission_raw.mission_raw import MissionRaw  # noqa: E402
from pymavlink.dialects.v20 import common as mavlink  # noqa: E402

OWN = Path(__file__).resolve().parents[1] / "missions"
FIELDS = (
    "seq", "frame", "command", "current", "autocontinue",
    "param1", "param2", "param3", "param4", "x", "y", "z", "mission_type",
)  # fmt: skip


@pytest.fixture(scope="module")
def importer() -> Iterator[Any]:
    sdk = mavsdk.Mavsdk(
        mavsdk.Configuration.create_with_component_type(mavsdk.ComponentType.GROUND_STATION)
    )
    try:
        assert sdk.add_any_connection("raw://") == mavsdk.ConnectionResult.SUCCESS
        link = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
        heartbeat = link.heartbeat_encode(
            mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_PX4, 0, 0, mavlink.MAV_STATE_STANDBY
        )
        sdk.pass_received_raw_bytes(bytes(heartbeat.pack(link)))
        system = sdk.first_autopilot(timeout_s=5.0)
        assert system is not None, "MAVSDK saw no autopilot in the heartbeat"
        yield MissionRaw(system)
    finally:
        sdk.destroy()


def assert_same(ours: list[MissionItem], theirs: list[Any], skip: set[tuple[int, str]]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        for field in FIELDS:
            if (a.seq, field) in skip:
                continue
            mine, other = getattr(a, field), getattr(b, field)
            if isinstance(mine, float) and math.isnan(mine):
                assert math.isnan(other), (a.seq, field)
            else:
                assert mine == pytest.approx(other, rel=1e-6), (a.seq, field, mine, other)


def _good_real(missions_dir: Path) -> list[Path]:
    return [
        missions_dir / "qgroundcontrol_sample.plan",
        missions_dir / "qgroundcontrol_sample_with_survey.plan",
        missions_dir / "qgroundcontrol_sample_with_digicam_control.plan",
    ]


def test_real_plans_match_mavsdk(importer: Any, missions_dir: Path) -> None:
    for path in _good_real(missions_dir):
        ours = parse_mission_file(path.read_bytes())
        theirs = importer.import_qgroundcontrol_mission_from_string(path.read_text())
        assert_same(ours.mission, theirs.mission_items, set())
        assert_same(ours.fence, theirs.geofence_items, set())
        assert_same(ours.rally, theirs.rally_items, set())


def test_real_waypoint_file_mavsdk_flies_its_row_0_we_refuse_it(
    importer: Any, missions_dir: Path
) -> None:
    path = missions_dir / "mission_planner_sample.txt"
    theirs = importer.import_mission_planner_mission_from_string(path.read_text())
    assert [i.command for i in theirs.mission_items] == [22, 16, 16, 20]
    with pytest.raises(ValueError, match="row 0 of a QGC WPL 110 file is the home position"):
        parse_mission_file(path.read_bytes())


def test_refusals_agree_with_mavsdk(importer: Any, missions_dir: Path) -> None:
    for path in sorted(missions_dir.glob("*.plan")):
        if path in _good_real(missions_dir):
            continue
        with pytest.raises(mavsdk.plugins.mission_raw.mission_raw.MissionRawError):
            importer.import_qgroundcontrol_mission_from_string(path.read_text())
        with pytest.raises(ValueError, match=r"\w"):
            parse_mission_file(path.read_bytes())


def test_own_plans_match_mavsdk(importer: Any) -> None:
    for name in ("square.plan", "survey.plan", "fence_and_rally.plan"):
        text = (OWN / name).read_text()
        ours = parse_mission_file(text.encode())
        theirs = importer.import_qgroundcontrol_mission_from_string(text)
        jumps = {(i.seq, "param1") for i in ours.mission if i.command == 177}
        assert_same(ours.mission, theirs.mission_items, jumps)
        assert_same(ours.fence, theirs.geofence_items, set())
        assert_same(ours.rally, theirs.rally_items, set())
    square = parse_mission_file((OWN / "square.plan").read_bytes())
    theirs = importer.import_qgroundcontrol_mission_from_string((OWN / "square.plan").read_text())
    assert (square.mission[5].param1, theirs.mission_items[5].param1) == (1.0, 2.0)


def test_own_waypoint_file_matches_mavsdk_but_for_home(importer: Any) -> None:
    text = (OWN / "home_first.waypoints").read_text()
    ours = parse_mission_file(text.encode())
    theirs = importer.import_mission_planner_mission_from_string(text).mission_items
    assert theirs[0].command == 16 and theirs[0].z == ours.home[2]  # type: ignore[index]
    shifted = [
        MissionItem(
            **{f: getattr(t, f) for f in FIELDS} | {"seq": t.seq - 1, "current": int(t.seq == 1)}
        )
        for t in theirs[1:]
    ]
    jumps = {(i.seq, "param1") for i in ours.mission if i.command == 177}
    assert_same(ours.mission, shifted, jumps)
