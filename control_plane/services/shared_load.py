"""Concurrent reads of the same thing share the read under way.

The caches in front of the database (``token_cache``, ``listing_cache``) answer most
requests from memory, but when an entry is missing or too old every request arriving at
that moment used to read the database itself: 50 connections polling one list, or using
one token first seen by this process, queued 50 identical reads on the database thread
(~0.2-1 s of latency at the 99th percentile, measured with wrk). Here the first request
reads, and the others that arrive while it does wait for its answer, provided that
answer is recent enough for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(slots=True)
class _Read(Generic[T]):
    generation: int
    started_s: float
    """Monotonic time the read started: what it finds is no older than that."""
    answer: asyncio.Future[T]
    """Its value or its error; cancelled when the read itself was cancelled."""


class SharedLoads(Generic[K, T]):
    """Reads under way, per key; ``load`` joins one or starts one."""

    def __init__(self, max_age_s: float) -> None:
        self._max_age_s = max_age_s
        self._reads: dict[K, _Read[T]] = {}

    def reading(self, key: K) -> bool:
        """A read of ``key`` is under way."""
        return key in self._reads

    async def load(
        self, key: K, generation: int, now_s: float, read: Callable[[], Awaitable[T]]
    ) -> tuple[T, float]:
        """``read()``'s answer, or that of the read of ``key`` already under way when it
        began less than ``max_age_s`` before ``now_s`` and in the same ``generation``
        (the caller's count of changes that make older reads unusable); with the
        monotonic time the read that found it started (what a cache entry's age counts
        from)."""
        under_way = self._reads.get(key)
        if (
            under_way is not None
            and under_way.generation == generation
            and now_s - under_way.started_s < self._max_age_s
        ):
            try:
                return await asyncio.shield(under_way.answer), under_way.started_s
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not under_way.answer.cancelled() or (task and task.cancelling()):
                    raise  # this request was cancelled, not the read it waited for
        mine = _Read[T](generation, now_s, asyncio.get_running_loop().create_future())
        self._reads[key] = mine
        try:
            value = await read()
        except Exception as error:
            mine.answer.set_exception(error)
            mine.answer.exception()  # retrieved: the waiters, if any, raise it too
            raise
        except BaseException:  # cancelled (its client hung up), or the process stops
            mine.answer.cancel()  # the waiters read for themselves
            raise
        finally:
            if self._reads.get(key) is mine:
                del self._reads[key]
        mine.answer.set_result(value)
        return value, now_s
