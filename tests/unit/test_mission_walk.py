"""``shared.mission.walk``: which items a vehicle reached, from its current item alone.

The vehicle's current item is all an agent sees; these tests feed the walk the current
items a vehicle would show (as the simulator flies the same missions, DO_JUMP by DO_JUMP)
and check the items reported: each once, in the order flown, none that was skipped.
"""

from __future__ import annotations

import math
import time

from shared import mav_cmd
from shared.mission import MissionItem
from shared.mission.walk import MAX_STEPS, MissionWalk


def item(
    seq: int, command: int = mav_cmd.NAV_WAYPOINT, p1: float = 0, p2: float = 0
) -> MissionItem:
    return MissionItem(
        seq=seq, frame=3, command=command, current=int(seq == 0), autocontinue=1,
        param1=p1, param2=p2, param3=0, param4=math.nan,
        x=473977420 + seq * 1000, y=85455940, z=15.0, mission_type=0,
    )  # fmt: skip


def jump(seq: int, target: float, repeat: float) -> MissionItem:
    return item(seq, mav_cmd.DO_JUMP, target, repeat)


def mission(n: int, **jumps: tuple[float, float]) -> list[MissionItem]:
    """``n`` items; ``j4=(1, 2)`` makes item 4 a DO_JUMP to item 1, repeated twice."""
    at = {int(k[1:]): v for k, v in jumps.items()}
    return [jump(i, *at[i]) if i in at else item(i) for i in range(n)]


def follow(walk: MissionWalk, currents: list[int]) -> list[int]:
    """What an agent reports when the vehicle's current item takes these values in turn,
    then the mission finishes."""
    reported: list[int] = []
    for current in currents:
        reported += walk.advance_to(current)
    return reported + walk.finish()


def test_a_plain_mission_reports_every_item_in_order_even_when_skipping_ahead() -> None:
    walk = MissionWalk(mission(6))
    assert walk.advance_to(0) == []  # flying item 0: nothing reached yet
    assert walk.advance_to(1) == [0]
    assert walk.advance_to(4) == [1, 2, 3]  # seen late: the items in between
    assert walk.advance_to(4) == []
    assert walk.finish() == [4, 5]
    assert walk.last == 5 and walk.reached == set(range(6))


def test_a_repeated_section_reports_its_items_once_and_the_jump_when_it_is_done() -> None:
    # 0 takeoff, 1-3 waypoints, 4 DO_JUMP to 1 twice (the section flies 3 times), 5 last
    walk = MissionWalk(mission(6, j4=(1, 2)))
    flown = [0, 1, 2, 3, 1, 2, 3, 1, 2, 3, 5]  # the current item as the vehicle shows it
    assert follow(walk, flown) == [0, 1, 2, 3, 4, 5]


def test_a_pass_the_agent_did_not_see_changes_nothing() -> None:
    walk = MissionWalk(mission(6, j4=(1, 2)))
    # the agent saw pass 1, then only the end: the walk goes through the repeats itself
    assert follow(walk, [1, 2, 3, 5]) == [0, 1, 2, 3, 4, 5]


def test_the_jump_is_not_reached_while_its_section_repeats() -> None:
    walk = MissionWalk(mission(6, j4=(1, 2)))
    assert walk.advance_to(1) == [0]
    assert walk.advance_to(2) == [1]
    assert walk.advance_to(1) == [2, 3]  # jumped back: item 4 is not done
    assert walk.advance_to(3) == []
    assert walk.last == 3
    assert walk.advance_to(5) == [4]


def test_items_a_forward_jump_skips_are_never_reported() -> None:
    walk = MissionWalk(mission(7, j2=(5, 1)))  # item 2 skips items 3 and 4
    assert follow(walk, [1, 5, 6]) == [0, 1, 2, 5, 6]


def test_a_jump_with_no_repeats_is_passed_like_any_item() -> None:
    assert follow(MissionWalk(mission(5, j2=(0, 0))), [3]) == [0, 1, 2, 3, 4]


def test_a_current_item_off_the_way_is_taken_as_where_the_vehicle_was_sent() -> None:
    walk = MissionWalk(mission(6))
    assert walk.advance_to(3) == [0, 1, 2]
    assert walk.advance_to(1) == []  # set back by someone: no jump leads there
    assert walk.position == 1
    assert walk.advance_to(2) == []  # item 1 was reported already
    assert walk.finish() == [3, 4, 5]


def test_an_endless_loop_ends_the_search_instead_of_hanging() -> None:
    walk = MissionWalk(mission(6, j3=(1, -1)))  # repeat -1: for ever
    assert walk.advance_to(2) == [0, 1]
    start = time.monotonic()
    assert walk.advance_to(5) == []  # never on the way: bounded search, nothing invented
    assert time.monotonic() - start < 5.0, f"{MAX_STEPS} steps took too long"
    assert walk.position == 5


def test_skip_past_resumes_after_the_last_item_a_job_reported() -> None:
    walk = MissionWalk(mission(6, j4=(1, 2)))
    assert walk.skip_past(2)
    assert walk.reached == {0, 1, 2} and walk.position == 3
    # the vehicle is in pass 2 at item 2: items 3 and (not yet) 4 follow
    assert walk.advance_to(2) == [3]
    assert walk.advance_to(5) == [4]
    walk = MissionWalk(mission(6))
    assert not walk.skip_past(9)
    assert walk.position == 0 and walk.reached == set()


def test_originals_number_the_items_as_the_file_does() -> None:
    # a resumed mission: a takeoff and a setting at the head, then the file's items 4..6
    walk = MissionWalk(mission(5), [None, None, 4, 5, 6])
    assert walk.advance_to(3) == [4]
    assert walk.finish() == [5, 6]
