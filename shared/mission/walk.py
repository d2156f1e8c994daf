"""The order in which an autopilot flies a mission's items, DO_JUMPs followed.

An autopilot tells where it is in its mission by one number, the current item
(MAVLink ``MISSION_CURRENT``). Counting up to it is right only for a mission that flies
its items in file order; with a DO_JUMP the current item goes back (a repeated section)
or forward (items skipped), and an observer that was away (an agent restarted
mid-flight) must tell which items were flown in between. ``MissionWalk`` replays the
mission as PX4 (and the project's simulator) flies it and answers, for each new current
item, which items were reached on the way there.

What "reached" means, and why (each item is in a job's history once):

- an item other than a DO_JUMP is reached when the vehicle goes past it (the current
  item moves on): the first time only. The passes of a repeated section after the first
  add nothing to the history: it lists which items were flown, not how often;
- a DO_JUMP is reached when it is done: when the vehicle goes past it without jumping
  (its repeats used up; a repeat count of 0 never jumps), or when it jumps forward (the
  items it skips are never reached, and are never reported). A DO_JUMP that jumps back
  is not reached yet: the section is still being repeated. So the last item reached of
  a job stopped inside a repeated section is never the DO_JUMP that repeats it: a resume
  point computed from it (``shared.mission.resume``) lies inside the section, where a
  resume is refused rather than guessed;
- a DO_JUMP with a negative repeat count (PX4: repeat for ever) jumps every time.

The vehicle's repeat counters are not observable: the walk keeps its own. Following the
current item, it takes the first way to the new item from where it was (the fewest
loop passes), which is never ahead of the vehicle, so it never reports an item the
vehicle did not reach; an item reached in a pass the walk did not see is reported when
the vehicle leaves the section. ``MAX_STEPS`` bounds one search: an item the walk
cannot find within it (the autopilot was told to go there, or an endless loop) is taken
as where the vehicle is now, with nothing reported on the way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from shared import mav_cmd
from shared.mission.items import MissionItem

MAX_STEPS = 1_000_000
"""Most items one search walks (a 10,000-item mission 100 times over, ~0.5 s)."""


def jump_of(item: MissionItem) -> tuple[int, int]:
    """A DO_JUMP's target item and repeat count (param1, param2), NaN as -1 and 0."""
    target = int(item.param1) if math.isfinite(item.param1) else -1
    repeat = int(item.param2) if math.isfinite(item.param2) else 0
    return target, repeat


class MissionWalk:
    """Where a vehicle flying ``items`` is, and which items it reached so far.

    ``originals`` gives the number each item has in the mission file (what a job's
    history reports); None marks an item that is not one of the file's (the takeoff and
    the re-applied settings at the head of a resumed mission). By default an item's
    number is its index.
    """

    def __init__(
        self, items: Sequence[MissionItem], originals: Sequence[int | None] | None = None
    ) -> None:
        self._items = items
        self._originals: Sequence[int | None] = (
            originals if originals is not None else range(len(items))
        )
        if len(self._originals) != len(items):
            raise ValueError("originals must number every item")
        self.position = 0
        """The item the vehicle works on now (``len(items)``: the mission is over)."""
        self._jumps: dict[int, int] = {}
        """Jumps made so far, by the index of their DO_JUMP."""
        self.reached: set[int] = set()
        """Original numbers of the items reached."""
        self.last: int | None = None
        """The original number of the item reached last."""

    @property
    def end(self) -> int:
        return len(self._items)

    def _step(self, position: int, jumps: dict[int, int]) -> tuple[int, bool]:
        """From ``position``: the next position and whether the item there was reached."""
        item = self._items[position]
        if item.command != mav_cmd.DO_JUMP:
            return position + 1, True
        target, repeat = jump_of(item)
        done = jumps.get(position, 0)
        if 0 <= target < self.end and (repeat < 0 or done < repeat):
            jumps[position] = done + 1
            return target, target > position
        return position + 1, True

    def advance_to(self, current: int) -> list[int]:
        """The vehicle's current item is now ``current`` (``len(items)`` or more: the
        mission is over): the original numbers of the items newly reached on the way, in
        the order reached."""
        current = min(max(current, 0), self.end)
        position, jumps = self.position, dict(self._jumps)
        newly: list[int] = []
        seen: set[int] = set()
        steps = 0
        while position != current:
            if position >= self.end or steps >= MAX_STEPS:
                self.position = current  # not on the way: the vehicle was sent there
                return []
            original = self._originals[position]
            position, reached = self._step(position, jumps)
            steps += 1
            if reached and original is not None and self._new(original, seen):
                seen.add(original)
                newly.append(original)
        self.position, self._jumps = position, jumps
        self.reached.update(newly)
        if newly:
            self.last = newly[-1]
        return newly

    def _new(self, original: int, seen: set[int]) -> bool:
        return original not in self.reached and original not in seen

    def skip_past(self, original: int) -> bool:
        """Replay the walk, reporting nothing, until item ``original`` is reached (an
        agent restarted mid-flight knows the last item its job reported: everything up
        to it was reported already). False, and nothing changed, when the walk never
        reaches it."""
        if original in self.reached:
            return True
        position, jumps = self.position, dict(self._jumps)
        passed: list[int] = []
        for _ in range(MAX_STEPS):
            if position >= self.end:
                return False
            number = self._originals[position]
            position, reached = self._step(position, jumps)
            if reached and number is not None:
                passed.append(number)
                if number == original:
                    self.position, self._jumps = position, jumps
                    self.reached.update(passed)
                    self.last = original
                    return True
        return False

    def finish(self) -> list[int]:
        """The mission is over: the items reached since the last call."""
        return self.advance_to(self.end)
