"""Verified access tokens remembered for a moment, so a bearer check needs no database trip.

Every request used to read its token's row (and user) from the database: on SQLite that
is a hop to the database thread and back, the largest cost of a small authenticated
route (``GET /api/v1/user/`` ran at 0.16x the bare route). This cache keeps what the
check found, keyed by the token's SHA-256 digest (never the token itself), and bounds
how stale it may be:

- **Expiry is exact**: the caller compares the remembered expiry with its clock on every
  use.
- **Revocation in this process is immediate**: the code that revokes calls ``forget`` /
  ``forget_owner`` once its change is committed. That also moves an epoch forward, so a
  check that read the database before the change cannot put its stale answer back.
- **Revocation by another process** (another replica, the ``gosd`` CLI) **takes at most
  ``max_age_s``** (0.6 s): an entry is trusted only for that long after the database
  read that produced it *started* (a read that starts after a commit sees it). After
  ``fresh_s`` one request checks the database again while the others keep using the
  entry until ``max_age_s``, so a token used by 50 connections costs one read, not 50.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from control_plane.services.principal import Principal

FRESH_S = 0.3
"""An entry this young is used as it is (so a busy token costs ~3 reads a second)."""
MAX_AGE_S = 0.6
"""No entry is used this long after its check started: revocation elsewhere is seen
within this, which leaves a margin below the promised second for a loaded machine."""
MAX_ENTRIES = 10_000
"""Live tokens remembered; beyond that the least recently checked are dropped."""


@dataclass(slots=True)
class CachedToken:
    principal: Principal
    expires_at: datetime
    """The token's expiry, compared with the wall clock on every use."""
    checked_at_s: float
    """Monotonic time at which the database read behind this entry started."""
    refreshing: bool = False
    """A request is reading the database for this token right now."""


@dataclass(frozen=True, slots=True)
class Check:
    """A database read in progress for one token: ``store`` its result, ``end`` it."""

    digest: str
    started_s: float
    epoch: int


class TokenCache:
    """Bounded map of token digest -> what its database check found (see the module)."""

    def __init__(
        self,
        *,
        fresh_s: float = FRESH_S,
        max_age_s: float = MAX_AGE_S,
        max_entries: int = MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < fresh_s <= max_age_s:
            raise ValueError("need 0 < fresh_s <= max_age_s")
        self._fresh_s = fresh_s
        self.max_age_s = max_age_s
        """No entry is used longer than this after its check started."""
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[str, CachedToken] = {}
        self._epoch = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: str) -> CachedToken | None:
        """The entry if it may be used now; None when the database must be read."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        age_s = self._monotonic() - entry.checked_at_s
        if age_s < self._fresh_s or (entry.refreshing and age_s < self.max_age_s):
            return entry
        return None

    def begin(self, digest: str) -> Check:
        """Call before reading the token's row; pair with ``end`` in a ``finally``."""
        entry = self._entries.get(digest)
        if entry is not None:
            entry.refreshing = True
        return Check(digest, self._monotonic(), self._epoch)

    def end(self, check: Check) -> None:
        entry = self._entries.get(check.digest)
        if entry is not None:
            entry.refreshing = False

    def store(self, check: Check, principal: Principal, expires_at: datetime) -> None:
        """Remember a token found valid, unless something was revoked meanwhile."""
        if check.epoch != self._epoch:
            return
        self._entries.pop(check.digest, None)
        while len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]  # the least recently checked
        self._entries[check.digest] = CachedToken(principal, expires_at, check.started_s)

    def discard(self, digest: str) -> None:
        """Drop one entry (its token was found unknown, revoked or expired)."""
        self._entries.pop(digest, None)

    def forget(self, digests: Iterable[str]) -> None:
        """These tokens were revoked in this process: refuse them from now on."""
        self._epoch += 1
        for digest in digests:
            self._entries.pop(digest, None)

    def forget_owner(self, kind: str, owner_id: int) -> None:
        """Every token of this user or node was revoked (or deleted) in this process."""
        self._epoch += 1
        for digest in [
            d
            for d, e in self._entries.items()
            if e.principal.kind == kind and e.principal.id == owner_id
        ]:
            del self._entries[digest]
