"""The MQTT broker built into the control plane, for installations without Mosquitto.

amqtt runs here in a thread of its own with its own event loop: a busy fleet then costs
the broker's loop, not the API's (DESIGN §10). Passwords are checked by a coroutine of
the *caller's* loop (it queries the database there); the broker thread hands each check
over with ``run_coroutine_threadsafe`` and waits for it without blocking its own loop.
Topic access follows ``acl.py``, the same rules the Mosquitto ACL file is generated from;
``amqtt_broker.py`` holds the plugins and the fixes amqtt needed to be trusted with them.

What amqtt 0.12 does with a denial (there is no way to report one in MQTT 3.1.1):

- refused CONNECT: CONNACK "not authorised" (return code 5), then the socket is closed;
- denied PUBLISH: acknowledged as usual (PUBACK for QoS 1) and dropped, logged at INFO;
- denied SUBSCRIBE: the SUBACK carries 0x80 (failure) for that filter (Mosquitto grants
  it and then delivers nothing the ACL withholds);
- delivery: checked again per subscriber (``Action.RECEIVE``) before a message goes out;
- a will on a topic its user may not publish to: the login is refused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import errno
import logging
import os
import threading
from typing import Any

from amqtt.broker import Broker  # type: ignore[import-untyped]
from amqtt.errors import BrokerError as AmqttBrokerError  # type: ignore[import-untyped]

from control_plane.messaging.amqtt_broker import (
    Authenticate,
    GuardedBroker,
    PasswordCheck,
    TopicAcl,
)

log = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 10.0
"""How long a connecting client waits for its password check before it is refused."""


class BrokerError(Exception):
    """The embedded broker could not start; the message says what to change."""


class EmbeddedBroker:
    """amqtt on ``host:port`` in a thread of its own; ``start()`` then ``stop()``, once each.

    ``port`` 0 picks a free port (tests); ``address`` tells which one it got.
    """

    def __init__(self, host: str, port: int, authenticate: Authenticate) -> None:
        self._host = host
        self._port = port
        self._authenticate = authenticate
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._address: tuple[str, int] | None = None

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` actually listened on; only valid after ``start()``."""
        if self._address is None:
            raise RuntimeError("the embedded broker has not started")
        return self._address

    async def start(self) -> None:
        """Return once the broker listens; ``BrokerError`` when it cannot."""
        if self._thread is not None:
            raise RuntimeError("the embedded broker was already started")
        caller_loop = asyncio.get_running_loop()
        started: concurrent.futures.Future[tuple[str, int]] = concurrent.futures.Future()
        # The thread runs in a copy of the caller's context, and so does every task of its
        # loop: a password check handed back to the caller's loop then sees the caller's
        # context variables (Tortoise 1.x finds its database connections in one).
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._run, caller_loop, started),
            name="gosd-mqtt-broker",
            daemon=True,
        )
        self._thread.start()
        try:
            self._address = await asyncio.wrap_future(started)
        except BaseException:
            await asyncio.to_thread(self._thread.join)
            raise
        log.info("embedded MQTT broker listening on %s:%d", *self._address)

    async def stop(self) -> None:
        """Disconnect every client, close the listener and join the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            # RuntimeError: the loop closed between the check and the call.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        await asyncio.to_thread(thread.join)

    def _run(
        self,
        caller_loop: asyncio.AbstractEventLoop,
        started: concurrent.futures.Future[tuple[str, int]],
    ) -> None:
        try:
            asyncio.run(self._serve(caller_loop, started))
        except BaseException as exc:  # supervisor boundary of the broker thread
            if not started.done():
                started.set_exception(exc)
            else:
                log.exception("embedded MQTT broker stopped with an error")

    async def _serve(
        self,
        caller_loop: asyncio.AbstractEventLoop,
        started: concurrent.futures.Future[tuple[str, int]],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()

        async def on_caller_loop(username: str, password: str) -> bool:
            return await self._authenticate(username, password)

        async def check(username: str, password: str) -> bool:
            future = asyncio.run_coroutine_threadsafe(
                on_caller_loop(username, password), caller_loop
            )
            try:
                async with asyncio.timeout(AUTH_TIMEOUT_S):
                    return await asyncio.wrap_future(future)
            finally:
                future.cancel()

        broker = GuardedBroker(_config(self._host, self._port, check))
        try:
            await broker.start()
        except AmqttBrokerError as exc:
            started.set_exception(self._listen_error(exc))
            return
        started.set_result(_bound_address(broker, self._host))
        try:
            await self._stopping.wait()
        finally:
            await broker.shutdown()

    def _listen_error(self, exc: AmqttBrokerError) -> BrokerError:
        cause = exc.__cause__
        where = f"{self._host}:{self._port}"
        if isinstance(cause, OSError):
            reason = os.strerror(cause.errno).lower() if cause.errno else str(cause)
            hint = (
                "set GOSD_MQTT_LISTEN to a free host:port"
                if cause.errno == errno.EADDRINUSE
                else "check GOSD_MQTT_LISTEN"
            )
            return BrokerError(f"cannot listen on {where} ({reason}): {hint}")
        return BrokerError(f"cannot start the embedded MQTT broker on {where}: {exc}")


def _config(host: str, port: int, check: Authenticate) -> dict[str, Any]:
    """amqtt's configuration: one TCP listener, our two plugins and nothing else.

    Naming ``plugins`` replaces amqtt's defaults, among them the anonymous-login plugin
    and the ``$SYS`` publisher; the plugins are found by dotted path.
    """
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            f"{PasswordCheck.__module__}.{PasswordCheck.__name__}": {"check": check},
            f"{TopicAcl.__module__}.{TopicAcl.__name__}": {},
        },
    }


def _bound_address(broker: Broker, host: str) -> tuple[str, int]:
    server = broker._servers["default"].instance  # amqtt offers no public way to ask
    sockets = getattr(server, "sockets", None) or ()
    for sock in sockets:
        return host, int(sock.getsockname()[1])
    raise BrokerError("the embedded MQTT broker started without a listening socket")
