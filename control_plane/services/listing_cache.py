"""A group's node or plan list, remembered for a moment between changes.

Even as one joined query of plain rows, the node list (100 nodes x 3 points, SQLite) cost
~2 ms of CPU a request, six times the bare route, nearly all of it reading 300 rows
through the database thread; clients poll this list. So each list is kept per group:

- **Changes made by this process are seen at once**: the services that write nodes or
  plans count their writes (``NODE_WRITES``, ``PLAN_WRITES``) after each commit, and a
  list loaded before the latest write is never used. (A load that started before a
  commit carries the count it started with, so it cannot pass for a newer one.)
- **Changes made by another process** (another replica, the ``gosd`` CLI) **are seen
  within ``max_age_s``** (0.8 s), the same promise as for revoked tokens: after
  ``fresh_s`` one request loads the list again while the others keep answering the one
  they have, never past ``max_age_s``.

Requests that find no usable list while one is being loaded for the same writes wait
for that load instead of starting their own (``shared_load``).

What the lists carry that changes all the time (a node's live ``status``) is not cached.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from control_plane.services.shared_load import SharedLoads

T = TypeVar("T")

FRESH_S = 0.4
"""A list this young is answered as it is."""
MAX_AGE_S = 0.8
"""No list older than this is answered: another process's change shows within it."""
MAX_GROUPS = 1_000
"""Groups whose lists are kept; beyond that the least recently loaded are dropped."""


class WriteCount:
    """How many writes this process has committed to one kind of listed resource."""

    def __init__(self) -> None:
        self.value = 0

    def bump(self) -> None:
        """Call after the write's transaction has committed (also after a failed one)."""
        self.value += 1


NODE_WRITES = WriteCount()
"""Writes to nodes and their points (process-wide, shared by every app in the process)."""
PLAN_WRITES = WriteCount()
"""Writes to plans and their files."""


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T
    loaded_at_s: float
    """Monotonic time at which the load behind this entry started."""
    writes: int
    """The write count when the load started."""


class ListingCache(Generic[T]):
    """Per-group values of one list, reloaded on writes here and after ``fresh_s``."""

    def __init__(
        self,
        writes: WriteCount,
        *,
        fresh_s: float = FRESH_S,
        max_age_s: float = MAX_AGE_S,
        max_groups: int = MAX_GROUPS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < fresh_s <= max_age_s:
            raise ValueError("need 0 < fresh_s <= max_age_s")
        self._writes = writes
        self._fresh_s = fresh_s
        self._max_age_s = max_age_s
        self._max_groups = max_groups
        self._monotonic = monotonic
        self._entries: dict[int, _Entry[T]] = {}
        self._loads: SharedLoads[int, T] = SharedLoads(max_age_s)

    async def get(self, group_id: int, load: Callable[[], Awaitable[T]]) -> T:
        """The group's list, from memory when allowed, else from ``load()``."""
        entry = self._entries.get(group_id)
        started_s = self._monotonic()
        if entry is not None and entry.writes == self._writes.value:
            age_s = started_s - entry.loaded_at_s
            reloading = self._loads.reading(group_id)
            if age_s < self._fresh_s or (reloading and age_s < self._max_age_s):
                return entry.value
        writes = self._writes.value
        value, loaded_at_s = await self._loads.load(group_id, writes, started_s, load)
        if writes == self._writes.value:
            self._entries.pop(group_id, None)
            while len(self._entries) >= self._max_groups:
                del self._entries[next(iter(self._entries))]
            self._entries[group_id] = _Entry(value, loaded_at_s, writes)
        return value
