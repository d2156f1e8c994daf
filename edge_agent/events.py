"""Publishing the outbox's job events until the control plane acknowledges them (§4.2).

The outbox holds the truth; this loop only moves it to the broker. New events are
published in ``seq`` order as they are appended. Everything unacknowledged is published
again, in order:

- after each (re)connect (the broker may have lost what was in flight);
- when an ``EventAck`` says ``replay`` (the control plane saw a gap);
- when the oldest unacknowledged event has waited ``resend_after_s`` since it was last
  sent (an ack was lost, or the control plane was away).

Duplicates are harmless: the control plane stores an event once per ``(stream, seq)``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiomqtt

from edge_agent.link import Link, LinkDown
from edge_agent.outbox import Outbox
from shared import codec, topics
from shared.messages import EventAck, JobEvent

log = logging.getLogger(__name__)


class EventPublisher:
    """Moves outbox events to ``nodes/{id}/events`` and applies ``events/ack``."""

    def __init__(
        self,
        link: Link,
        outbox: Outbox,
        *,
        resend_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._link = link
        self._outbox = outbox
        self._resend_after_s = resend_after_s
        self._clock = clock
        self._acks = link.subscribe(topics.events_ack(link.node_id))
        self._wake = asyncio.Event()
        self._replay = True
        """Publish every unacked event on the next round (set by connect, ack replay)."""
        self._sent_up_to = 0
        """Highest ``seq`` published in this connection (newer ones are due)."""
        self._oldest_sent_at: float | None = None
        """Monotonic time the oldest unacked event was last published."""
        outbox.listeners.append(self._on_append)
        link.on_connect.append(self.request_replay)

    def _on_append(self, event: JobEvent) -> None:
        self._wake.set()

    def request_replay(self) -> None:
        """Publish every unacknowledged event again, at once."""
        self._replay = True
        self._wake.set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._receive_acks())
            tg.create_task(self._publish_loop())

    async def _receive_acks(self) -> None:
        while True:
            payload = await self._acks.get()
            try:
                ack = codec.decode(payload, EventAck)
            except codec.ProtocolError as exc:
                log.warning("bad events/ack dropped: %s (%r)", exc, payload[:100])
                continue
            if ack.seq < 0:
                log.warning("events/ack with negative seq dropped")
                continue
            dropped = self._outbox.ack(ack.stream, ack.seq)
            if ack.stream != self._outbox.stream:
                log.info("ack of another stream %r ignored", ack.stream[:64])
            elif dropped:
                pending = self._outbox.first_unacked() is not None
                self._oldest_sent_at = self._clock() if pending else None
            if ack.replay:
                self.request_replay()

    async def _publish_loop(self) -> None:
        while True:
            try:
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if not self._link.connected.is_set():
                continue
            await self._publish_due()

    async def _publish_due(self) -> None:
        first = self._outbox.first_unacked()
        if first is None:
            self._oldest_sent_at = None
            return
        now = self._clock()
        stale = self._oldest_sent_at is not None and now - self._oldest_sent_at >= (
            self._resend_after_s
        )
        if self._replay or stale:
            due = self._outbox.unacked()
            self._replay = False
        else:
            due = self._outbox.unacked(after=self._sent_up_to)
        try:
            for event in due:
                await self._link.publish(topics.events(self._link.node_id), codec.encode(event))
                self._sent_up_to = max(self._sent_up_to, event.seq)
                if event.seq == first:
                    self._oldest_sent_at = self._clock()
        except (LinkDown, aiomqtt.MqttError) as exc:
            log.info("event publishing interrupted (%s): will replay", exc)
            self._replay = True
