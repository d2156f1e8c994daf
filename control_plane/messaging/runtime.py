"""The messaging side of one control plane process, started and stopped with the app.

With ``GOSD_MQTT_URL`` unset it starts the embedded broker first (its own thread) and
connects to it with a password made up for this process; otherwise it connects to
the external broker with the URL's credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from control_plane.errors import Conflict, InvalidInput, NodeUnreachable
from control_plane.messaging.bridge import MqttBridge, NotConnected
from control_plane.messaging.broker_login import broker_login
from control_plane.messaging.dispatcher import Dispatcher
from control_plane.messaging.embedded_broker import EmbeddedBroker
from control_plane.messaging.node_state import NodeStates
from control_plane.messaging.router import Router
from control_plane.messaging.rpc import NodeOffline, RpcClient, RpcFailed, RpcTimeout
from control_plane.messaging.tasks import cancel_all
from control_plane.services.container import Services
from control_plane.settings import Settings, broker_url, listen_address
from shared import topics
from shared.errors import RpcErrorCode
from shared.topics import CONTROL_PLANE_USERNAME

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 1.0
BRIDGE_CLOSE_S = 5.0
"""How long a stopping bridge may take to finish connecting and disconnect cleanly."""


class Messaging:
    def __init__(self, settings: Settings, services: Services, clock: Callable[[], datetime]):
        self._settings = settings
        self.states = NodeStates(clock)
        self.broker: EmbeddedBroker | None = None
        tls = False
        if settings.mqtt_url:
            url = broker_url(settings.mqtt_url)
            host, port, username, password = url.host, url.port, url.username, url.password
            tls = url.tls
        else:
            host, port = listen_address(settings.mqtt_listen, "GOSD_MQTT_LISTEN")
            username, password = CONTROL_PLANE_USERNAME, secrets.token_urlsafe(24)
            self.broker = EmbeddedBroker(host, port, broker_login(password))
        self._host, self._port = host, port
        self.bridge = MqttBridge(
            host,
            port,
            username=username,
            password=password,
            tls=tls,
            on_message=self._on_message,
        )
        self.rpc = RpcClient(self.bridge, self.states.status)
        self.dispatcher = Dispatcher(
            services,
            self.states,
            self.bridge,
            self.rpc,
            rpc_timeout_s=settings.rpc_timeout_s,
            queue_timeout_s=settings.queue_timeout_s,
        )
        self.router = Router(self.states, self.rpc, self.dispatcher)
        self._tasks: list[asyncio.Task[None]] = []
        self._bridge_task: asyncio.Task[None] | None = None

    @property
    def broker_address(self) -> tuple[str, int]:
        """Where the broker listens (the embedded one may have picked its port)."""
        if self.broker is not None:
            return self.broker.address
        return self._host, self._port

    async def start(self) -> None:
        if self.broker is not None:
            await self.broker.start()
            self.bridge.port = self.broker.address[1]
        self._bridge_task = asyncio.create_task(self.bridge.run(), name="mqtt-bridge")
        self._tasks = [
            self._bridge_task,
            asyncio.create_task(self.dispatcher.run_events(), name="job-events"),
            asyncio.create_task(self.dispatcher.run_sweeps(SWEEP_INTERVAL_S), name="sweeps"),
        ]

    async def stop(self) -> None:
        self.bridge.close()
        if self._bridge_task is not None:
            await asyncio.wait({self._bridge_task}, timeout=BRIDGE_CLOSE_S)
        await cancel_all(self._tasks)
        await self.dispatcher.close()
        if self.broker is not None:
            await self.broker.stop()

    async def ask(self, node_id: int, method: str, params: dict[str, Any]) -> Any:
        """Call an agent method for a person; RPC failures become the API's errors (a
        node known to be offline answers 503 at once)."""
        try:
            return await self.rpc.call(
                node_id, method, params, timeout_s=self._settings.rpc_timeout_s
            )
        except NodeOffline as exc:
            raise exc.error() from exc
        except RpcTimeout as exc:
            raise NodeUnreachable(f"node {node_id} did not answer {method}") from exc
        except RpcFailed as exc:
            if exc.code == RpcErrorCode.INVALID_PARAMS:
                raise InvalidInput(f"node {node_id}: {exc.message}") from exc
            raise Conflict(
                f"node {node_id} refused {method}: {exc.message}", rpc_code=exc.code
            ) from exc

    async def forget_node(self, node_id: int) -> None:
        """Clear a removed node's retained messages and its live state."""
        retained = [topics.status(node_id), topics.network(node_id)]
        retained += [topics.msg(node_id, t.name) for t in self.states.all_telemetry(node_id)]
        for topic in retained:
            with contextlib.suppress(NotConnected):
                await self.bridge.publish(topic, b"", qos=1, retain=True)
        self.states.forget(node_id)

    async def _on_message(self, topic: str, payload: bytes) -> None:
        # The bridge is built before the router it feeds (the router needs the RPC
        # client, which needs the bridge): this method closes the loop.
        await self.router.on_message(topic, payload)
