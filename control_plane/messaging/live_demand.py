"""The relay's on-demand hook: ask a node's agent over MQTT RPC to start or stop a stream.

``livestream_start`` / ``livestream_stop`` with ``{"point_id": <int>}``. Failures come back
as the API's errors, whose messages say why to the waiting viewer (the node is offline,
the agent refused or does not know the method).
"""

from __future__ import annotations

from control_plane.messaging.runtime import Messaging

START, STOP = "livestream_start", "livestream_stop"


class AgentLiveDemand:
    """``control_plane.live.hub.Demand`` over the agent's RPC."""

    def __init__(self, messaging: Messaging) -> None:
        self._messaging = messaging

    async def start(self, node_id: int, point_id: int) -> None:
        await self._messaging.ask(node_id, START, {"point_id": point_id})

    async def stop(self, node_id: int, point_id: int) -> None:
        await self._messaging.ask(node_id, STOP, {"point_id": point_id})
