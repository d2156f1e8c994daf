"""The bounds of the per-group list cache, on a clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from control_plane.services.listing_cache import ListingCache, WriteCount
from tests.support import until


class Monotonic:
    def __init__(self) -> None:
        self.now_s = 100.0
        self.reads = 0
        """How many times the cache read the clock: once per ``get``, before it waits."""

    def __call__(self) -> float:
        self.reads += 1
        return self.now_s


async def holds(check: Callable[[], bool], what: str) -> None:
    """Wait (with a deadline) until ``check()`` is true."""

    async def probe() -> bool:
        return check()

    await until(probe, what, within=5)


async def arrived(monotonic: Monotonic, requests: int) -> None:
    """Wait until ``requests`` gets have read the clock: each then ran, without yielding,
    up to its read or the read under way it joined."""
    await holds(lambda: monotonic.reads >= requests, f"{requests} requests reach the cache")


class Source:
    """What the database holds, and how many times it was read."""

    def __init__(self) -> None:
        self.value = "v1"
        self.loads = 0

    async def load(self) -> str:
        self.loads += 1
        return self.value


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


@pytest.fixture
def writes() -> WriteCount:
    return WriteCount()


@pytest.fixture
def cache(writes: WriteCount, monotonic: Monotonic) -> ListingCache[str]:
    return ListingCache(writes, fresh_s=0.4, max_age_s=0.8, max_groups=2, monotonic=monotonic)


async def test_a_list_is_loaded_once_while_fresh_then_again(
    cache: ListingCache[str], monotonic: Monotonic
) -> None:
    source = Source()
    assert await cache.get(1, source.load) == "v1"
    source.value = "v2"  # changed by another process
    monotonic.now_s += 0.39
    assert await cache.get(1, source.load) == "v1"
    monotonic.now_s += 0.02
    assert await cache.get(1, source.load) == "v2"
    assert source.loads == 2


async def test_a_write_in_this_process_is_seen_at_once(
    cache: ListingCache[str], writes: WriteCount
) -> None:
    source = Source()
    await cache.get(1, source.load)
    source.value = "v2"
    writes.bump()
    assert await cache.get(1, source.load) == "v2"


async def test_a_load_overtaken_by_a_write_is_not_kept(
    cache: ListingCache[str], writes: WriteCount
) -> None:
    source = Source()

    async def load_then_a_write_commits() -> str:
        value = await source.load()  # read before the write committed
        source.value = "v2"
        writes.bump()
        return value

    assert await cache.get(1, load_then_a_write_commits) == "v1"
    assert await cache.get(1, source.load) == "v2"


async def test_while_one_request_reloads_others_answer_the_old_list_until_max_age(
    cache: ListingCache[str], monotonic: Monotonic
) -> None:
    source = Source()
    await cache.get(1, source.load)
    monotonic.now_s += 0.5
    release = asyncio.Event()

    async def slow_load() -> str:
        await release.wait()
        return await source.load()

    async with asyncio.TaskGroup() as tg:
        reload = tg.create_task(cache.get(1, slow_load))
        await arrived(monotonic, 2)  # the reload has started
        assert await cache.get(1, source.load) == "v1"  # no second load
        assert source.loads == 1
        source.value = "v2"  # written by another process meanwhile
        monotonic.now_s += 0.31  # 0.81 s since the first load started: too old to answer
        late = tg.create_task(cache.get(1, source.load))
        await arrived(monotonic, 4)
        assert not late.done()  # it waits for the reload under way, not the old list
        release.set()
    assert reload.result() == late.result() == "v2"
    assert source.loads == 2


async def test_groups_are_kept_apart_and_bounded(cache: ListingCache[str]) -> None:
    sources = {g: Source() for g in (1, 2, 3)}
    for g, s in sources.items():
        s.value = f"group {g}"
        assert await cache.get(g, s.load) == f"group {g}"
    assert await cache.get(2, sources[2].load) == "group 2"
    assert sources[2].loads == 1
    assert await cache.get(1, sources[1].load) == "group 1"
    assert sources[1].loads == 2  # dropped: only two groups are kept


class HeldSource(Source):
    """A load that waits until the test lets it finish (or fail)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.fail_first = False

    async def load(self) -> str:
        self.loads += 1
        await self.release.wait()
        if self.fail_first and self.loads == 1:
            raise ConnectionError("the database went away")
        return self.value


async def test_requests_arriving_during_a_load_wait_for_it(
    cache: ListingCache[str], monotonic: Monotonic
) -> None:
    source = HeldSource()
    waiting = [asyncio.ensure_future(cache.get(1, source.load)) for _ in range(50)]
    await arrived(monotonic, 50)
    source.release.set()
    assert await asyncio.gather(*waiting) == ["v1"] * 50
    assert source.loads == 1


async def test_a_failed_load_fails_its_waiters_and_the_next_request_loads_again(
    cache: ListingCache[str], monotonic: Monotonic
) -> None:
    source = HeldSource()
    source.fail_first = True
    waiting = [asyncio.ensure_future(cache.get(1, source.load)) for _ in range(3)]
    await arrived(monotonic, 3)
    source.release.set()
    answers = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(a, ConnectionError) for a in answers), answers
    assert source.loads == 1
    assert await cache.get(1, source.load) == "v1"
    assert source.loads == 2


async def test_a_cancelled_load_leaves_its_waiters_to_load_for_themselves(
    cache: ListingCache[str], monotonic: Monotonic
) -> None:
    source = HeldSource()
    first = asyncio.ensure_future(cache.get(1, source.load))
    await arrived(monotonic, 1)
    second = asyncio.ensure_future(cache.get(1, source.load))
    await arrived(monotonic, 2)
    first.cancel()  # the client of the first request hung up
    await holds(lambda: source.loads == 2, "the waiting request loads for itself")
    source.release.set()
    assert await second == "v1"
    assert first.cancelled()
    assert source.loads == 2


async def test_a_shared_load_is_as_old_as_its_start_for_every_request_that_waited(
    cache: ListingCache[str], monotonic: Monotonic
) -> None:
    source = HeldSource()
    first = asyncio.ensure_future(cache.get(1, source.load))
    await arrived(monotonic, 1)
    monotonic.now_s += 0.7  # a request arriving late in the load joins it
    late = asyncio.ensure_future(cache.get(1, source.load))
    await arrived(monotonic, 2)
    source.release.set()
    assert await asyncio.gather(first, late) == ["v1", "v1"]
    monotonic.now_s += 0.05  # 0.75 s since the load started: past fresh_s
    assert await cache.get(1, source.load) == "v1"
    assert source.loads == 2
