"""The agent's MQTT link: connect, announce, reconnect, and nothing protocol-specific.

One ``aiomqtt`` client per connection attempt, with the node's own credentials
(username and client id ``node-<id>``, password the node secret, DESIGN §7). The retained
last will (``neterror``) is set before connecting; on every connect the link subscribes
to the topics registered with ``subscribe`` and publishes the retained birth message
(``online``), then tells the ``on_connect`` listeners (the event publisher replays its
outbox). A broken connection is retried with capped, jittered exponential back-off;
refused credentials end the link (``LinkAuthError``): retrying cannot fix them.

Inbound messages go to bounded queues, one per subscribed topic: when a consumer falls
behind, new messages are dropped, logged and counted rather than growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiomqtt

from shared import codec, topics
from shared.agent_config import AgentConfig, ConfigError
from shared.messages import AgentInfo, NodeStatus, StatusCode

log = logging.getLogger(__name__)

MAX_CONCURRENT_QOS1 = 8
"""QoS 1 publishes in flight at once: aiomqtt warns past 10 pending calls."""

CLOSE_TIMEOUT_S = 3.0
"""How long a clean stop waits for the ``offline`` status to be acknowledged."""

_BAD_CREDENTIALS = frozenset({4, 5, 134, 135})
"""CONNACK codes (3.1.1 and 5) for bad username/password and not authorised."""


def _reraise_swallowed_cancel() -> None:
    """Re-raise a cancellation that ``asyncio.wait_for`` (inside aiomqtt) swallowed.

    On Python 3.11, ``wait_for`` returns the result instead of raising
    ``CancelledError`` when the awaited future completes in the same loop iteration as
    the cancel (fixed in 3.12). The task then carries on, "cancelling" but never
    cancelled, and a clean stop hangs. A pending cancel request shows in
    ``Task.cancelling()``: honour it.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class LinkDown(Exception):
    """Publishing while the link is not connected."""


class LinkAuthError(Exception):
    """The broker refused the node's credentials."""


@dataclass
class Backoff:
    """Capped exponential back-off with full jitter (retries never synchronise)."""

    min_s: float = 0.2
    max_s: float = 10.0
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        ceiling = min(self.max_s, self.min_s * 2**self.attempts)
        self.attempts += 1
        return self.rng.uniform(self.min_s, max(self.min_s, ceiling))

    def reset(self) -> None:
        self.attempts = 0


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://host:port`` or ``mqtts://host:port``; ``ConfigError`` for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"broker.url {url!r} is not mqtt://host:port or mqtts://host:port")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"broker.url {url!r} has a bad port") from None
    tls = parts.scheme == "mqtts"
    return BrokerAddress(parts.hostname, port or (8883 if tls else 1883), tls)


class Link:
    """The node's connection to the broker, kept up until ``run`` is cancelled."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        describe: Callable[[], dict[str, object]],
        agent: AgentInfo,
        backoff: Backoff | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.node_id = config.node.id
        self._config = config
        self._address = parse_broker_url(config.broker.url)
        self._describe = describe
        self._agent = agent
        self._backoff = backoff or Backoff()
        self._wall_clock = wall_clock
        self._client: aiomqtt.Client | None = None
        self._queues: dict[str, asyncio.Queue[bytes]] = {}
        self._qos1 = asyncio.Semaphore(MAX_CONCURRENT_QOS1)
        self.connected = asyncio.Event()
        """Set while a connection is up (and its birth message was published)."""
        self.on_connect: list[Callable[[], None]] = []
        """Called after each (re)connect, once subscribed and announced."""
        self.dropped = 0
        """Inbound messages dropped because their queue was full."""

    def subscribe(self, topic: str, maxsize: int = 100) -> asyncio.Queue[bytes]:
        """Register ``topic`` (QoS 1, on every connect) and answer the queue it fills."""
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize)
        self._queues[topic] = queue
        return queue

    def status(self, code: StatusCode) -> NodeStatus:
        return NodeStatus(
            code=code,
            msg=code.label,
            timestamp=str(int(self._wall_clock())),
            status=dict(self._describe()),
            agent=self._agent,
        )

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        """Publish; for QoS 1, return once the broker acknowledged it.

        Raises ``LinkDown`` when not connected and ``aiomqtt.MqttError`` when the publish
        fails or times out.
        """
        client = self._client
        if client is None or not self.connected.is_set():
            raise LinkDown("not connected to the broker")
        try:
            if qos == 0:
                await client.publish(topic, payload, qos=0, retain=retain, timeout=timeout_s)
            else:
                async with self._qos1:
                    await client.publish(topic, payload, qos=qos, retain=retain, timeout=timeout_s)
        except aiomqtt.MqttError:
            _reraise_swallowed_cancel()
            raise
        _reraise_swallowed_cancel()

    def _new_client(self) -> aiomqtt.Client:
        username = topics.node_username(self.node_id)
        will = aiomqtt.Will(
            topics.status(self.node_id),
            codec.encode(self.status(StatusCode.NETERROR)),
            qos=1,
            retain=True,
        )
        tls = None
        if self._address.tls:
            tls = aiomqtt.TLSParameters()
        return aiomqtt.Client(
            self._address.host,
            self._address.port,
            username=username,
            password=self._config.node.secret,
            identifier=username,
            will=will,
            keepalive=self._config.broker.keepalive_s,
            clean_session=True,
            timeout=10.0,
            tls_params=tls,
            # Without it an event sent right after an RPC response waits for the ACK
            # of the first packet: ~40 ms per job step (measured by bench/dispatch).
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )

    async def run(self) -> None:
        """Stay connected until cancelled; then publish ``offline`` and disconnect."""
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                rc = getattr(exc, "rc", None)
                if isinstance(exc, aiomqtt.MqttCodeError) and getattr(rc, "value", rc) in (
                    _BAD_CREDENTIALS
                ):
                    raise LinkAuthError(f"the broker refused node-{self.node_id}: {exc}") from exc
                log.warning("broker link lost or unavailable: %s", exc)
            delay = self._backoff.next_delay()
            log.info("reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        client = self._new_client()
        async with client:
            self._client = client
            try:
                for topic in self._queues:
                    granted = await client.subscribe(topic, qos=1)
                    if any(getattr(g, "value", g) >= 0x80 for g in granted):
                        log.error("the broker refused the subscription to %s", topic)
                birth = codec.encode(self.status(StatusCode.ONLINE))
                await client.publish(topics.status(self.node_id), birth, qos=1, retain=True)
                _reraise_swallowed_cancel()
                self.connected.set()
                self._backoff.reset()
                log.info(
                    "connected to %s:%d as node-%d",
                    self._address.host,
                    self._address.port,
                    self.node_id,
                )
                for listener in self.on_connect:
                    listener()
                async for message in client.messages:
                    self._deliver(str(message.topic), message.payload)
            except asyncio.CancelledError:
                await self._say_offline(client)
                raise
            finally:
                self.connected.clear()
                self._client = None

    def _deliver(self, topic: str, payload: object) -> None:
        queue = self._queues.get(topic)
        if queue is None:
            log.warning("message on unexpected topic %s dropped", topic[:200])
            return
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode() if payload is not None else b""
        try:
            queue.put_nowait(bytes(payload))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning(
                "inbound queue of %s full: message dropped (%d so far)", topic, self.dropped
            )

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """The clean-exit status (code 1), retained, before the (will-cancelling) disconnect.

        Sent whenever the connection is up, even before the birth was acknowledged: a
        stop racing the birth must not leave ``online`` retained.
        """
        offline = codec.encode(self.status(StatusCode.OFFLINE))
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            await client.publish(
                topics.status(self.node_id), offline, qos=1, retain=True, timeout=CLOSE_TIMEOUT_S
            )
            log.info("published offline status")
