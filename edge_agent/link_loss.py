"""Noticing that the broker link stayed down too long, for the running job's policy.

A drone flying a mission does not need the broker: by default (``link_loss_action``
``continue``) it flies on, and its events wait in the outbox. A job may instead ask the
agent to act (``hold``, ``rtl``, ``land``) once the link is gone longer than its
``link_loss_timeout_s``. This watch only measures outages and calls back once per
outage; what to do is the executor's business.

The link says it is up with an ``asyncio.Event`` and has no "down" event, so the watch
samples it every ``poll_s`` (a timer, not a synchronisation: half a second is nothing
against a timeout of tens of seconds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class LinkLossWatch:
    """Calls ``on_lost(down_s)`` once per outage longer than ``timeout_s()``."""

    def __init__(
        self,
        connected: asyncio.Event,
        *,
        poll_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connected = connected
        self._poll_s = poll_s
        self._clock = clock
        self.samples = 0
        """How many times the link was looked at (tests wait on it instead of sleeping)."""

    async def run(
        self,
        timeout_s: Callable[[], float | None],
        on_lost: Callable[[float], Awaitable[None]],
    ) -> None:
        """Until cancelled. ``timeout_s()`` answers None when nothing is to be done."""
        down_since: float | None = None
        acted = False
        while True:
            if self._connected.is_set():
                down_since, acted = None, False
            else:
                now = self._clock()
                down_since = now if down_since is None else down_since
                limit = timeout_s()
                if not acted and limit is not None and now - down_since >= limit:
                    acted = True
                    await on_lost(now - down_since)
            self.samples += 1
            await asyncio.sleep(self._poll_s)
