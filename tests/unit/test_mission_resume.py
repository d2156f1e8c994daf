"""``shared.mission.resume``: the rest of an interrupted mission, ready to fly.

A survey as QGroundControl writes one for PX4: a takeoff, a speed, the camera trigger on,
lanes, the trigger off, a return. What a resume uploads is checked item by item: a
takeoff first, the settings the first part had made, the rest renumbered, and each
item's number in the file kept for the history.
"""

from __future__ import annotations

import math

import pytest

from shared import mav_cmd
from shared.mission import MissionItem
from shared.mission.resume import (
    ResumeError,
    resume_mission,
    resume_point,
    settings_before,
)

HOME = (47.397742, 8.545594, 488.0)


def item(
    seq: int, command: int, *params: float, frame: int = 2, lat: float = 0, alt: float = 0
) -> MissionItem:
    p = [*params, 0, 0, 0, 0][:4]
    return MissionItem(
        seq=seq, frame=frame, command=command, current=int(seq == 0), autocontinue=1,
        param1=p[0], param2=p[1], param3=p[2], param4=p[3],
        x=round(lat * 1e7), y=85455940 if lat else 0, z=alt, mission_type=0,
    )  # fmt: skip


def waypoint(seq: int) -> MissionItem:
    return item(seq, mav_cmd.NAV_WAYPOINT, frame=3, lat=47.3978 + seq * 1e-4, alt=20)


def survey() -> list[MissionItem]:
    items = [
        item(0, mav_cmd.NAV_TAKEOFF, 0, 0, 0, math.nan, frame=3, lat=HOME[0], alt=20),
        item(1, mav_cmd.DO_CHANGE_SPEED, 1, 6, -1),
        item(2, mav_cmd.DO_SET_CAM_TRIGG_DIST, 10, 0, 1),
    ]
    items += [waypoint(seq) for seq in range(3, 9)]
    items += [
        item(9, mav_cmd.DO_SET_CAM_TRIGG_DIST, 0, 0, 0),
        item(10, mav_cmd.NAV_RETURN_TO_LAUNCH),
    ]
    return items


def test_the_rest_of_a_survey_takes_off_sets_speed_and_camera_then_flies_the_lanes() -> None:
    mission = survey()
    resumed = resume_mission(mission, 6)
    commands = [i.command for i in resumed.items]
    assert commands == [
        mav_cmd.NAV_TAKEOFF,  # the mission's own takeoff, where its author put it
        mav_cmd.DO_CHANGE_SPEED,
        mav_cmd.DO_SET_CAM_TRIGG_DIST,
        *[mav_cmd.NAV_WAYPOINT] * 3,  # items 6, 7, 8
        mav_cmd.DO_SET_CAM_TRIGG_DIST,
        mav_cmd.NAV_RETURN_TO_LAUNCH,
    ]
    assert [i.seq for i in resumed.items] == list(range(8))
    assert [i.current for i in resumed.items] == [1] + [0] * 7
    assert resumed.originals == [None, None, None, 6, 7, 8, 9, 10]
    assert resumed.restored == [1, 2]
    assert (resumed.resume_from, resumed.total, resumed.head) == (6, 11, 3)
    takeoff = resumed.items[0]
    assert (takeoff.x, takeoff.z, takeoff.frame) == (mission[0].x, 20, 3)
    assert resumed.items[1].param2 == 6 and resumed.items[2].param1 == 10
    assert resumed.items[3].x == mission[6].x  # the lane goes on where it stopped


def test_only_the_last_setting_of_each_kind_is_applied_again_in_the_files_order() -> None:
    mission = [
        item(0, mav_cmd.NAV_TAKEOFF, frame=3, lat=HOME[0], alt=20),
        item(1, mav_cmd.DO_CHANGE_SPEED, 1, 6),
        item(2, mav_cmd.DO_SET_CAM_TRIGG_INTERVAL, 2),
        item(3, mav_cmd.DO_CHANGE_SPEED, 1, 4),  # ground speed again: replaces item 1
        item(4, mav_cmd.DO_CHANGE_SPEED, 2, 2),  # climb speed: a kind of its own
        item(5, mav_cmd.DO_SET_ROI_LOCATION, frame=3, lat=HOME[0], alt=0),
        item(6, mav_cmd.DO_SET_ROI_NONE),  # the region of interest is cleared
        item(7, mav_cmd.IMAGE_START_CAPTURE, 0, 2, 0),  # a series without end
        item(8, mav_cmd.VIDEO_START_CAPTURE),
        item(9, mav_cmd.VIDEO_STOP_CAPTURE),  # stopped: nothing to start again
        item(10, mav_cmd.DO_GIMBAL_MANAGER_PITCHYAW, -90),
        waypoint(11),
    ]
    assert [i.seq for i in settings_before(mission, 11)] == [2, 3, 4, 6, 7, 10]
    one_photo = [*mission[:7], item(7, mav_cmd.IMAGE_START_CAPTURE, 0, 0, 1), waypoint(8)]
    assert [i.seq for i in settings_before(one_photo, 8)] == [2, 3, 4, 6]


def test_a_mission_without_a_takeoff_gets_one_at_the_files_home() -> None:
    mission = [waypoint(0), waypoint(1), waypoint(2)]
    resumed = resume_mission(mission, 1, home=HOME, takeoff_alt_m=25)
    takeoff = resumed.items[0]
    assert (takeoff.command, takeoff.frame, takeoff.z) == (mav_cmd.NAV_TAKEOFF, 3, 25)
    assert (takeoff.x, takeoff.y) == (round(HOME[0] * 1e7), round(HOME[1] * 1e7))
    assert resumed.originals == [None, 1, 2]


def test_resuming_at_the_takeoff_or_from_the_start_adds_nothing() -> None:
    mission = survey()
    resumed = resume_mission(mission, 0)
    assert resumed.items == mission and resumed.originals == list(range(11))


def test_a_jump_inside_the_rest_is_renumbered() -> None:
    mission = [
        *survey()[:9],
        item(9, mav_cmd.DO_JUMP, 6, 2),
        item(10, mav_cmd.NAV_RETURN_TO_LAUNCH),
    ]
    resumed = resume_mission(mission, 5)
    jump = resumed.items[resumed.originals.index(9)]
    assert jump.command == mav_cmd.DO_JUMP
    assert resumed.originals[int(jump.param1)] == 6 and jump.param2 == 2


def test_a_resume_inside_a_repeated_section_is_refused_saying_what_to_do() -> None:
    mission = [
        *survey()[:9],
        item(9, mav_cmd.DO_JUMP, 4, 2),
        item(10, mav_cmd.NAV_RETURN_TO_LAUNCH),
    ]
    with pytest.raises(ResumeError) as refused:
        resume_mission(mission, 6)
    message = str(refused.value)
    assert "inside the section (items 4..9)" in message and "resume from item 4" in message
    assert resume_mission(mission, 4).originals[-7:] == [4, 5, 6, 7, 8, 9, 10]  # as it says
    never = [*mission[:9], item(9, mav_cmd.DO_JUMP, 4, 0), mission[10]]  # repeat 0: no jump
    assert resume_mission(never, 6).total == 11


def test_nothing_left_is_refused() -> None:
    with pytest.raises(ResumeError, match="nothing is left to fly"):
        resume_mission(survey(), 11)
    with pytest.raises(ResumeError):
        resume_mission(survey(), -1)


def test_the_resume_point_is_the_item_the_vehicle_would_have_flown_next() -> None:
    mission = survey()
    assert resume_point(mission, None) == 0
    assert resume_point(mission, 5) == 6
    assert resume_point(mission, 10) == 11  # the last one: nothing left
    skip = [*mission[:4], item(4, mav_cmd.DO_JUMP, 7, 1), *mission[5:]]
    assert resume_point(skip, 4) == 7  # after a forward jump: where it lands
    loop = [*mission[:9], item(9, mav_cmd.DO_JUMP, 4, 2), mission[10]]
    assert resume_point(loop, 8) == 9  # inside the repeats: at the jump (refused)
    assert resume_point(loop, 9) == 10  # the jump done: after it
    assert resume_point(mission, 42) == 11  # not an item of the file: nothing after it
