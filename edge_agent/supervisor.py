"""The composition root of the agent: builds every component and runs them together.

One ``asyncio.TaskGroup`` owns the long-lived components (link, RPC server, executor,
event publisher, telemetry, network monitor, live video streams): if one fails, all
stop, and the CLI exits non-zero (systemd or the dock restarts the agent; the outbox
carries the state over).

A clean stop cancels the workers first and the link last, so the link can still say
``offline`` (retained) before it disconnects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import edge_agent
from edge_agent.drivers.base import Driver
from edge_agent.events import EventPublisher
from edge_agent.executor import Executor
from edge_agent.fetcher import FileFetcher
from edge_agent.link import Link
from edge_agent.livestream import LiveStreams
from edge_agent.network import NetworkMonitor
from edge_agent.node_token import NodeToken
from edge_agent.outbox import Outbox
from edge_agent.rpc import RpcFailure, RpcServer, parse_params
from edge_agent.telemetry import Telemetry
from shared.agent_config import AgentConfig
from shared.errors import RpcErrorCode
from shared.messages import ActionParams, AgentInfo

log = logging.getLogger(__name__)

RPC_METHODS = (
    "action",
    "emergency_stop",
    "history",
    "job_cancel",
    "job_start",
    "livestream_start",
    "livestream_stop",
    "ping",
)


class Supervisor:
    """The whole agent of one node, for one driver."""

    def __init__(self, config: AgentConfig, driver: Driver) -> None:
        self.config = config
        self.driver = driver
        data_dir = Path(config.agent.data_dir)
        self.outbox = Outbox(data_dir / "outbox.sqlite3")
        self.link = Link(
            config,
            describe=driver.describe,
            agent=AgentInfo(version=edge_agent.__version__, capabilities=sorted(RPC_METHODS)),
        )
        token = NodeToken(config.control_plane.url, config.node.id, config.node.secret)
        fetcher = FileFetcher(
            config.control_plane.url,
            config.node.id,
            config.node.secret,
            data_dir / "files",
            token=token,
        )
        self.executor = Executor(self.outbox, driver, fetcher, link_connected=self.link.connected)
        self.events = EventPublisher(self.link, self.outbox)
        self.telemetry = Telemetry(self.link, driver, rate_hz=config.agent.telemetry_hz)
        self.network = NetworkMonitor(self.link)
        self.livestreams = LiveStreams(
            config.livestream,
            node_id=config.node.id,
            control_plane_url=config.control_plane.url,
            token=token,
            record=self.telemetry.record,
        )
        self.rpc = RpcServer(
            self.link,
            {
                "job_start": self.executor.job_start,
                "job_cancel": self.executor.job_cancel,
                "emergency_stop": self.executor.emergency_stop,
                "action": self._action,
                "history": self._history,
                "livestream_start": self.livestreams.start,
                "livestream_stop": self.livestreams.stop,
                "ping": self._ping,
            },
        )
        assert self.rpc.capabilities == sorted(RPC_METHODS)

    async def _action(self, params: Mapping[str, Any]) -> Any:
        request: ActionParams = parse_params(params, ActionParams)
        if request.name not in self.driver.actions:
            raise RpcFailure(RpcErrorCode.UNSUPPORTED, f"no action {request.name[:100]!r}")
        return await self.driver.action(request.name, request.params)

    async def _history(self, params: Mapping[str, Any]) -> Any:
        return self.telemetry.history(params)

    async def _ping(self, params: Mapping[str, Any]) -> Any:
        return {"time": time.time()}

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set (then stop cleanly) or a component fails."""
        await self.driver.start()
        try:
            async with asyncio.TaskGroup() as tg:
                link = tg.create_task(self.link.run(), name="link")
                workers = [
                    tg.create_task(self.executor.run(), name="executor"),
                    tg.create_task(self.events.run(), name="events"),
                    tg.create_task(self.rpc.run(), name="rpc"),
                    tg.create_task(self.telemetry.run(), name="telemetry"),
                    tg.create_task(self.network.run(), name="network"),
                    tg.create_task(self.livestreams.run(), name="livestreams"),
                ]
                await stop.wait()
                log.info("stopping")
                await self.livestreams.close()  # the ingest sees each stream end cleanly
                for worker in workers:
                    worker.cancel()
                await asyncio.wait(workers)
                link.cancel()
        finally:
            try:
                await self.driver.close()
            finally:
                self.outbox.close()
