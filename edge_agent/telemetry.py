"""Telemetry: the driver's latest values on ``nodes/{id}/msg/{name}`` (DESIGN §4.3).

Telemetry is latest-value-wins, so it goes out at QoS 0, retained (a new subscriber
sees the last value at once). Each topic is rate-limited to ``rate_hz`` and change-only:
an unchanged value is not re-sent, except every ``keepalive_s`` so a retained value
that stopped changing still shows the node is alive. An ``urgent`` sample (a state
change a driver wants seen at once, like a dock's cover starting to move) cuts the pause
between rounds short: it goes out within a few milliseconds. Samples are also kept in a ring
buffer per name for the ``history`` RPC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import msgspec

from edge_agent.drivers.base import Driver, TelemetrySample
from edge_agent.link import Link, LinkDown
from edge_agent.rpc import RpcFailure, parse_params
from shared import codec, topics
from shared.errors import RpcErrorCode
from shared.messages import HistoryParams

log = logging.getLogger(__name__)

HISTORY_SAMPLES = 1024
"""Samples kept per telemetry name for ``history``."""

HISTORY_BYTES = 200_000
"""A ``history`` answer keeps the newest samples that fit in this many bytes: the
response must stay under the protocol's payload limit (``codec.MAX_PAYLOAD_BYTES``)."""


@dataclass
class _Topic:
    latest: bytes | None = None
    sent: bytes | None = None
    sent_at: float = float("-inf")
    """Monotonic time of the last publish."""
    history: deque[tuple[float, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY_SAMPLES))
    """(Unix time, value) pairs, oldest first."""


class Telemetry:
    """Publishes driver telemetry and answers ``history``."""

    def __init__(
        self,
        link: Link,
        driver: Driver,
        *,
        rate_hz: float = 1.0,
        keepalive_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if rate_hz <= 0:
            raise ValueError("rate_hz must be positive")
        self._link = link
        self._driver = driver
        self._interval_s = 1.0 / rate_hz
        self._keepalive_s = keepalive_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._topics: dict[str, _Topic] = {}
        self._changed = asyncio.Event()
        self._urgent = asyncio.Event()

    def record(self, sample: TelemetrySample) -> None:
        """Take a sample: it becomes the value to publish and enters the history."""
        if not topics.is_msg_name(sample.name):
            log.warning("driver telemetry name %r is not a valid name: dropped", sample.name)
            return
        builtins = msgspec.to_builtins(sample.value)
        entry = self._topics.setdefault(sample.name, _Topic())
        entry.latest = codec.encode(builtins)
        entry.history.append((self._wall_clock(), builtins))
        self._changed.set()
        if sample.urgent:
            self._urgent.set()

    def history(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The ``history`` RPC: samples of one name within the last ``time`` seconds."""
        query: HistoryParams = parse_params(params, HistoryParams)
        name = query.topic
        prefix = topics.msg(self._link.node_id, "x")[:-1]
        name = name.removeprefix(prefix)
        if not topics.is_msg_name(name):
            raise RpcFailure(RpcErrorCode.INVALID_PARAMS, f"{query.topic[:100]!r} is not telemetry")
        entry = self._topics.get(name)
        if entry is None:
            return []
        since = self._wall_clock() - max(0.0, query.time)
        newest_first: list[dict[str, Any]] = []
        budget = HISTORY_BYTES
        for t, value in reversed(entry.history):
            if t < since:
                break
            budget -= len(codec.encode(value)) + 40  # + the time and the punctuation
            if budget < 0:
                break
            newest_first.append({"time": t, "value": value})
        return newest_first[::-1]

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._read())
            tg.create_task(self._publish_loop())

    async def _read(self) -> None:
        async for sample in self._driver.telemetry():
            self.record(sample)

    async def _publish_loop(self) -> None:
        while True:
            # One publish per topic per interval at most: a whole interval passes after
            # each round; while nothing changes, wake up for the keep-alives.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._keepalive_s):
                    await self._changed.wait()
            self._changed.clear()
            self._urgent.clear()
            await self.publish_due()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._urgent.wait()

    async def publish_due(self) -> None:
        """Publish every topic whose value changed, or whose keep-alive is due."""
        if not self._link.connected.is_set():
            self._changed.set()  # try again on the next round
            return
        now = self._clock()
        for name, entry in list(self._topics.items()):
            if entry.latest is None:
                continue
            if entry.latest == entry.sent and now - entry.sent_at < self._keepalive_s:
                continue
            try:
                await self._link.publish(
                    topics.msg(self._link.node_id, name), entry.latest, qos=0, retain=True
                )
            except (LinkDown, aiomqtt.MqttError) as exc:
                log.debug("telemetry %s not published: %s", name, exc)
                self._changed.set()
                return
            entry.sent, entry.sent_at = entry.latest, now
