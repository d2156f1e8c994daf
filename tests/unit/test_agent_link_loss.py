"""The link-loss watch: one call per outage longer than the job's timeout, none otherwise."""

from __future__ import annotations

import asyncio

from edge_agent.link_loss import LinkLossWatch
from tests.support import until


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_an_outage_longer_than_the_timeout_is_reported_once() -> None:
    connected = asyncio.Event()
    connected.set()
    clock = Clock()
    watch = LinkLossWatch(connected, poll_s=0.005, clock=clock)
    lost: list[float] = []
    timeout_s: float | None = 30.0

    async def on_lost(down_s: float) -> None:
        lost.append(down_s)

    async def rounds(n: int) -> None:
        """Until the watch looked at the link ``n`` more times."""
        target = watch.samples + n

        async def sampled() -> bool:
            return watch.samples >= target

        await until(sampled, f"the watch sampled the link {n} more times")

    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(watch.run(lambda: timeout_s, on_lost))
        connected.clear()
        await rounds(5)
        clock.now += 29.0
        await rounds(5)
        assert lost == []  # not yet 30 s
        clock.now += 2.0

        async def reported() -> bool:
            return bool(lost)

        await until(reported, "the outage is reported")
        clock.now += 100.0
        await rounds(5)
        assert lost == [31.0]  # once per outage
        # The link returns and goes again: a new outage, a new count.
        connected.set()
        await rounds(5)
        connected.clear()
        await rounds(5)
        clock.now += 10.0
        timeout_s = None  # no job, or a job that says continue
        await rounds(5)
        clock.now += 100.0
        await rounds(5)
        assert lost == [31.0]
        task.cancel()
