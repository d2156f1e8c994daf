"""The channels of one control plane, and the on-demand start and stop of their streams.

When a channel gets a viewer and has no publisher, the hub asks the node to start the
stream (``Demand.start``); a while (``linger_s``) after its last viewer left, to stop it.
The calls go through ``run()``'s task group, so a slow or absent agent delays nobody's
request but the viewers waiting for that stream, who are told why it did not come.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from control_plane.live.channel import Channel, ChannelKey, Publication, RelayConfig
from control_plane.live.viewer import Viewer

log = logging.getLogger(__name__)


class Demand(Protocol):
    """What the hub calls to have a node start or stop a stream (the agent's RPC)."""

    async def start(self, node_id: int, point_id: int) -> None:
        """Ask the node to publish the point; raise with a message for people if not."""

    async def stop(self, node_id: int, point_id: int) -> None:
        """Ask the node to stop publishing the point."""


class LiveUnavailable(Exception):
    """A viewer's stream did not come; the message says why (node offline...)."""


class LiveHub:
    def __init__(self, config: RelayConfig, demand: Demand | None = None) -> None:
        self.config = config
        self.demand = demand
        self.channels: dict[ChannelKey, Channel] = {}
        self._calls: asyncio.Queue[tuple[str, Channel]] = asyncio.Queue(maxsize=10_000)
        self._lingering: dict[ChannelKey, asyncio.TimerHandle] = {}

    def channel(self, key: ChannelKey) -> Channel:
        channel = self.channels.get(key)
        if channel is None:
            channel = self.channels[key] = Channel(key, self.config, self._viewers_changed)
        return channel

    def publish(self, key: ChannelKey, task: asyncio.Task[object] | None) -> Publication:
        """Start a publication (replacing the channel's publisher, if any)."""
        return self.channel(key).publish(task)

    async def watch(self, key: ChannelKey, name: str = "") -> Viewer:
        """A primed viewer of the channel, once it is live; LiveUnavailable saying why
        when it is not within ``wait_s``. The caller must ``leave`` it."""
        channel = self.channel(key)
        viewer = channel.add_viewer(name)
        try:
            async with asyncio.timeout(self.config.wait_s):
                while not channel.live:
                    if channel.start_error is not None and not channel.start_pending:
                        raise LiveUnavailable(channel.start_error)
                    await channel.changed()
        except TimeoutError:
            self.leave(key, viewer)
            raise LiveUnavailable(
                f"node {key[0]} did not start the stream of point {key[1]} within "
                f"{self.config.wait_s:g} s"
            ) from None
        except BaseException:
            self.leave(key, viewer)
            raise
        channel.prime(viewer)
        return viewer

    def leave(self, key: ChannelKey, viewer: Viewer) -> None:
        self.channel(key).remove_viewer(viewer)

    def _viewers_changed(self, channel: Channel, delta: int) -> None:
        if self.demand is None:
            return
        if delta > 0:
            lingering = self._lingering.pop(channel.key, None)
            if lingering is not None:
                lingering.cancel()
            if (channel.publisher is None or channel.stop_sent) and not channel.start_pending:
                channel.start_pending, channel.start_error = True, None
                self._call("start", channel)
        elif not channel.viewers and channel.key not in self._lingering:
            self._lingering[channel.key] = asyncio.get_running_loop().call_later(
                self.config.linger_s, self._linger_over, channel
            )

    def _linger_over(self, channel: Channel) -> None:
        self._lingering.pop(channel.key, None)
        if not channel.viewers:
            channel.stop_sent = True
            self._call("stop", channel)

    def _call(self, action: str, channel: Channel) -> None:
        try:
            self._calls.put_nowait((action, channel))
        except asyncio.QueueFull:
            if action == "start":
                self._started(channel, "the control plane has too many streams to start")

    async def run(self) -> None:
        """Make the demand calls until cancelled."""
        async with asyncio.TaskGroup() as group:
            while True:
                action, channel = await self._calls.get()
                group.create_task(self._demand(action, channel))

    async def _demand(self, action: str, channel: Channel) -> None:
        assert self.demand is not None
        node_id, point_id = channel.key
        try:
            if action == "start":
                await self.demand.start(node_id, point_id)
            else:
                await self.demand.stop(node_id, point_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the agent's answer, whatever it is, is not ours to raise
            log.info("live %s of node %s point %s failed: %s", action, node_id, point_id, exc)
            if action == "start":
                self._started(channel, str(exc) or type(exc).__name__)
            return
        if action == "start":
            self._started(channel, None)

    def _started(self, channel: Channel, error: str | None) -> None:
        channel.start_pending, channel.start_error = False, error
        channel.notify()

    def stats(self) -> dict[str, object]:
        """Counters for health: channels, viewers, bytes in and out, tags dropped."""
        channels = [c.stats() for c in self.channels.values()]
        viewers = [v for c in channels for v in c["viewers"]]  # type: ignore[attr-defined]
        return {
            "channels": len(channels),
            "publishers": sum(1 for c in channels if c["publishing"]),
            "viewers": len(viewers),
            "bytes_in": sum(c["bytes_in"] for c in channels),  # type: ignore[misc]
            "bytes_out": sum(c["bytes_out"] for c in channels),  # type: ignore[misc]
            "tags_dropped": sum(v["tags_dropped"] for v in viewers),
            "streams": channels,
        }
