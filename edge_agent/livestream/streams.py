"""Every live stream of the node: their tasks, the RPC that starts and stops them, and
their health as telemetry (``msg/livestream``).

The health goes through ``Telemetry.record`` (latest value wins, rate-limited, retained):
a sample on every state change of any stream, and every ``REPORT_EVERY_S`` while one is
live (its fps and bitrate move). ``always`` streams start with the agent; ``on_demand``
ones wait for ``livestream_start``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from edge_agent.drivers.base import TelemetrySample
from edge_agent.livestream.stream import LiveStream
from edge_agent.node_token import NodeToken
from edge_agent.rpc import RpcFailure, parse_params
from shared.agent_config import LivestreamSection
from shared.errors import RpcErrorCode
from shared.messages import Livestream, LivestreamParams

TELEMETRY_NAME = "livestream"
REPORT_EVERY_S = 2.0
"""How often the health is sampled while a stream is live."""


class LiveStreams:
    """The node's streams, one per ``[[livestream]]`` table."""

    def __init__(
        self,
        settings: Sequence[LivestreamSection],
        *,
        node_id: int,
        control_plane_url: str,
        token: NodeToken,
        record: Callable[[TelemetrySample], None],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._record = record
        self._changed = asyncio.Event()
        """Something to report (cleared by the reporter)."""
        self._moved = asyncio.Event()
        """A stream changed (cleared by ``close``, which waits for them to stop)."""
        self.streams: dict[int, LiveStream] = {
            s.point_id: LiveStream(
                s,
                node_id=node_id,
                control_plane_url=control_plane_url,
                token=token,
                on_change=self._on_change,
                transport=transport,
            )
            for s in settings
        }

    def _on_change(self) -> None:
        self._changed.set()
        self._moved.set()

    def health(self) -> Livestream:
        return Livestream(streams=[stream.health() for stream in self.streams.values()])

    def _stream(self, params: Mapping[str, Any]) -> LiveStream:
        request: LivestreamParams = parse_params(params, LivestreamParams)
        stream = self.streams.get(request.point_id)
        if stream is None:
            raise RpcFailure(
                RpcErrorCode.INVALID_PARAMS,
                f"no livestream is configured for point {request.point_id}",
            )
        return stream

    async def start(self, params: Mapping[str, Any]) -> Any:
        """RPC ``livestream_start {point_id}``: viewers are waiting."""
        stream = self._stream(params)
        stream.start()
        return {"point_id": stream.settings.point_id, "state": stream.state}

    async def stop(self, params: Mapping[str, Any]) -> Any:
        """RPC ``livestream_stop {point_id}``: the last viewer left."""
        stream = self._stream(params)
        stream.stop()
        return {"point_id": stream.settings.point_id, "state": stream.state}

    async def close(self, timeout_s: float = 3.0) -> None:
        """Stop every stream and wait (at most ``timeout_s``) until they are off: each open
        PUT ends its body, so the ingest sees a clean end rather than a cut connection."""
        for stream in self.streams.values():
            stream.stop()

        async def all_off() -> None:
            while any(s.state not in ("off", "failed") for s in self.streams.values()):
                self._moved.clear()
                await self._moved.wait()

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await all_off()

    async def run(self) -> None:
        """Run every stream and report their health, until cancelled."""
        if not self.streams:
            await asyncio.Event().wait()  # nothing to run or report
        async with asyncio.TaskGroup() as tg:
            for stream in self.streams.values():
                tg.create_task(stream.run(), name=f"livestream-{stream.settings.point_id}")
            tg.create_task(self._report())

    async def _report(self) -> None:
        self._changed.set()  # the initial state
        while True:
            live = any(s.state == "live" for s in self.streams.values())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REPORT_EVERY_S if live else None):
                    await self._changed.wait()
            self._changed.clear()
            self._record(TelemetrySample(TELEMETRY_NAME, self.health()))
