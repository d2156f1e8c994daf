"""The control plane's MQTT connection: reconnecting, subscribed to every node topic.

One client per process, with an identifier unique to the process (two replicas, or a
restart overlapping the old process, must not kick each other off the broker). The
session is clean: the protocol itself (acknowledged events, retried RPCs, retained
status) makes up for what a broker drops while the control plane is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt

from control_plane.messaging.tasks import cancel_all
from shared.topics import CONTROL_PLANE_FILTERS

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], Awaitable[None]]

_BACKOFF_MIN_S = 0.2
_BACKOFF_MAX_S = 5.0


class NotConnected(ConnectionError):
    """The broker is not reachable right now; the caller may retry later."""


def client_identifier() -> str:
    """``gosd-cp-<host>-<pid>-<random>``: unique per process, readable in broker logs."""
    return f"gosd-cp-{socket.gethostname()[:20]}-{os.getpid()}-{secrets.token_hex(3)}"


class MqttBridge:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None,
        password: str | None,
        on_message: MessageHandler,
        tls: bool = False,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        keepalive_s: int = 30,
    ) -> None:
        self.host, self.port = host, port
        self._username, self._password = username, password
        self._on_message = on_message
        self._on_connect = on_connect
        self._keepalive_s = keepalive_s
        self._tls = aiomqtt.TLSParameters() if tls else None
        """``mqtts://``: the system's CA certificates verify the broker."""
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self._closing = asyncio.Event()
        self.identifier = client_identifier()

    async def run(self) -> None:
        """Connect, subscribe and deliver messages until ``close()``; reconnect on loss.

        ``close()`` ends the loop between steps rather than by cancellation: a cancel that
        lands while aiomqtt connects leaves paho's socket open.
        """
        backoff = _BACKOFF_MIN_S
        while not self._closing.is_set():
            client = aiomqtt.Client(
                self.host,
                self.port,
                username=self._username,
                password=self._password,
                identifier=self.identifier,
                keepalive=self._keepalive_s,
                tls_params=self._tls,
                clean_session=True,
                max_concurrent_outgoing_calls=8,
                max_queued_incoming_messages=100_000,
                # Small packets go out at once: acks and RPCs must not wait ~40 ms for
                # the previous packet's ACK (Nagle; measured by bench/dispatch).
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            )
            try:
                async with client:
                    await client.subscribe([(f, 1) for f in CONTROL_PLANE_FILTERS])
                    self._client = client
                    self.connected.set()
                    backoff = _BACKOFF_MIN_S
                    log.info("connected to the broker at %s:%s", self.host, self.port)
                    if self._on_connect is not None:
                        await self._on_connect()
                    await self._read_until_closed(client)
            except aiomqtt.MqttError as exc:
                if self.connected.is_set():
                    log.warning("lost the broker at %s:%s: %s", self.host, self.port, exc)
                else:
                    log.warning("cannot reach the broker at %s:%s: %s", self.host, self.port, exc)
            finally:
                self._client = None
                self.connected.clear()
            delay = backoff * (0.5 + random.random())  # noqa: S311 - jitter, not secrecy
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
            backoff = min(backoff * 2, _BACKOFF_MAX_S)

    def close(self) -> None:
        """Ask ``run()`` to disconnect and return."""
        self._closing.set()

    async def _read_until_closed(self, client: aiomqtt.Client) -> None:
        reader = asyncio.create_task(self._read(client))
        closing = asyncio.create_task(self._closing.wait())
        done: set[asyncio.Task[Any]] = set()
        try:
            done, _ = await asyncio.wait({reader, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_all([reader, closing])
        if reader in done:
            reader.result()  # the connection broke: raise its MqttError

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            await self._deliver(message)

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        client = self._client
        if client is None:
            raise NotConnected(f"not connected to the broker at {self.host}:{self.port}")
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=10)
        except aiomqtt.MqttError as exc:
            raise NotConnected(str(exc)) from exc

    async def _deliver(self, message: aiomqtt.Message) -> None:
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode() if payload is not None else b""
        try:
            await self._on_message(message.topic.value, bytes(payload))
        except Exception:
            # One bad message or handler bug must not take the bridge down.
            log.exception("failed to handle a message on %s", message.topic.value)
