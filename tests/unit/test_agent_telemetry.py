"""Telemetry rate limiting, change-only publishing and history; the network report."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from edge_agent.drivers.base import TelemetrySample
from edge_agent.drivers.fake import FakeDriver
from edge_agent.network import NetworkMonitor
from edge_agent.rpc import RpcFailure
from edge_agent.telemetry import Telemetry
from shared import topics
from shared.messages import Battery


@dataclass
class FakeLink:
    """What telemetry needs from a link: a node id, a connected flag and publish."""

    node_id: int = 5
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    published: list[tuple[str, bytes, int, bool]] = field(default_factory=list)

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False, **_: Any
    ) -> None:
        self.published.append((topic, payload, qos, retain))


class QuietDriver:
    """A driver whose telemetry never comes (the test records samples itself)."""

    async def telemetry(self) -> AsyncIterator[TelemetrySample]:
        await asyncio.Future()
        yield TelemetrySample("never", {})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def link() -> FakeLink:
    link = FakeLink()
    link.connected.set()
    return link


async def test_only_changes_and_keepalives_are_published(link: FakeLink) -> None:
    clock = Clock()
    telemetry = Telemetry(link, FakeDriver({}), keepalive_s=10.0, clock=clock, wall_clock=clock)  # type: ignore[arg-type]
    telemetry.record(TelemetrySample("battery", Battery(remain=90.0)))
    await telemetry.publish_due()
    assert link.published == [(topics.msg(5, "battery"), b'{"remain":90.0}', 0, True)]
    telemetry.record(TelemetrySample("battery", Battery(remain=90.0)))
    clock.now += 5
    await telemetry.publish_due()
    assert len(link.published) == 1  # unchanged: not re-sent
    clock.now += 5
    await telemetry.publish_due()
    assert len(link.published) == 2  # keep-alive after 10 s
    telemetry.record(TelemetrySample("battery", Battery(remain=89.0)))
    await telemetry.publish_due()
    assert link.published[-1][1] == b'{"remain":89.0}'


async def test_nothing_is_lost_while_the_link_is_down(link: FakeLink) -> None:
    telemetry = Telemetry(link, FakeDriver({}))  # type: ignore[arg-type]
    link.connected.clear()
    telemetry.record(TelemetrySample("battery", Battery(remain=50.0)))
    await telemetry.publish_due()
    assert link.published == []
    link.connected.set()
    await telemetry.publish_due()
    assert len(link.published) == 1


async def test_the_publish_loop_is_rate_limited(link: FakeLink) -> None:
    """At 20 Hz, 200 samples arriving within ~0.1 s give a handful of publishes, not 200."""
    telemetry = Telemetry(link, QuietDriver(), rate_hz=20.0)  # type: ignore[arg-type]
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(telemetry.run())
        for i in range(200):
            telemetry.record(TelemetrySample("battery", Battery(remain=float(i))))
            if i % 20 == 0:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        task.cancel()
    battery = [p for p in link.published if p[0] == topics.msg(5, "battery")]
    assert 1 <= len(battery) <= 6
    assert battery[-1][1] == b'{"remain":199.0}'


async def test_history_by_name_or_topic_within_a_window(link: FakeLink) -> None:
    clock = Clock()
    telemetry = Telemetry(link, FakeDriver({}), clock=clock, wall_clock=clock)  # type: ignore[arg-type]
    for remain in (10.0, 20.0, 30.0):
        telemetry.record(TelemetrySample("battery", Battery(remain=remain)))
        clock.now += 30
    recent = telemetry.history({"topic": "battery", "time": 65})
    assert recent == [
        {"time": 1030.0, "value": {"remain": 20.0}},
        {"time": 1060.0, "value": {"remain": 30.0}},
    ]
    assert telemetry.history({"topic": topics.msg(5, "battery"), "time": 1000}) == [
        {"time": 1000.0, "value": {"remain": 10.0}},
        *recent,
    ]
    assert telemetry.history({"topic": "position"}) == []
    with pytest.raises(RpcFailure):
        telemetry.history({"topic": "nodes/5/msg/#"})
    with pytest.raises(RpcFailure):
        telemetry.history({"time": 3})


def test_the_network_report_of_a_window(link: FakeLink) -> None:
    monitor = NetworkMonitor(link, window=4, timeout_s=3.0)  # type: ignore[arg-type]
    assert monitor.report().loss == 0.0
    monitor.samples.extend([0.010, None, 0.030, None])
    report = monitor.report()
    assert (report.loss, report.delay) == (50.0, 20.0)
    monitor.samples.extend([None] * 4)
    assert (monitor.report().loss, monitor.report().delay) == (100.0, 3000.0)


async def test_history_fits_in_one_message(link: FakeLink) -> None:
    from shared import codec

    clock = Clock()
    telemetry = Telemetry(link, FakeDriver({}), clock=clock, wall_clock=clock)  # type: ignore[arg-type]
    for i in range(1024):
        telemetry.record(TelemetrySample("blob", {"i": i, "pad": "x" * 400}))
    samples = telemetry.history({"topic": "blob", "time": 3600})
    assert 100 < len(samples) < 1024
    assert samples[-1]["value"]["i"] == 1023  # the newest are kept
    assert len(codec.encode(samples)) < codec.MAX_PAYLOAD_BYTES
