"""Link quality to the broker, published on ``nodes/{id}/network`` (DESIGN §4).

Method: every ``period_s`` the agent publishes a small QoS 1 probe and times the
broker's PUBACK on a monotonic clock. That round trip (agent -> broker -> agent, through
the same TCP connection and broker queue as every other message) is what a node's link
quality means to the control plane. A probe that fails, times out (``timeout_s``) or
cannot be sent because the link is down counts as lost.

The report covers the last ``window`` probes: ``loss`` is the percentage lost, ``delay``
the mean round trip of those that were acknowledged, in milliseconds (when none was,
``delay`` is the probe timeout). It is published at QoS 0, retained, after each probe.

The probe goes to ``nodes/{id}/msg/netprobe`` (not retained): a topic the node may
publish under its ACL, whose payload ``{"time": unix_s}`` is a valid telemetry object,
so the control plane can ignore it or show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

import aiomqtt

from edge_agent.link import Link, LinkDown
from shared import codec, topics
from shared.messages import Network

log = logging.getLogger(__name__)

PROBE_NAME = "netprobe"


class NetworkMonitor:
    """Probes the broker round trip and publishes ``Network`` reports."""

    def __init__(
        self,
        link: Link,
        *,
        period_s: float = 5.0,
        window: int = 12,
        timeout_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._link = link
        self._period_s = period_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._wall_clock = wall_clock
        self.samples: deque[float | None] = deque(maxlen=window)
        """Round trips in seconds of the last probes; None for a lost one."""

    def report(self) -> Network:
        """The figures of the current window."""
        if not self.samples:
            return Network(loss=0.0, delay=0.0)
        answered = [s for s in self.samples if s is not None]
        loss = 100.0 * (len(self.samples) - len(answered)) / len(self.samples)
        delay_s = sum(answered) / len(answered) if answered else self._timeout_s
        return Network(loss=round(loss, 1), delay=round(delay_s * 1000.0, 2))

    async def probe(self) -> float | None:
        """One round trip in seconds, or None when it was lost."""
        payload = codec.encode({"time": self._wall_clock()})
        started = self._clock()
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._link.publish(topics.msg(self._link.node_id, PROBE_NAME), payload, qos=1)
        except (LinkDown, aiomqtt.MqttError, TimeoutError) as exc:
            log.debug("network probe lost: %s", exc)
            return None
        return self._clock() - started

    async def run(self) -> None:
        await self._link.connected.wait()
        while True:
            self.samples.append(await self.probe())
            with contextlib.suppress(LinkDown, aiomqtt.MqttError):
                await self._link.publish(
                    topics.network(self._link.node_id),
                    codec.encode(self.report()),
                    qos=0,
                    retain=True,
                )
            await asyncio.sleep(self._period_s)
