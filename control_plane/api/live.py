"""Live node state: status, latest telemetry, the MQTT read bridge and an SSE stream.

All of it is served from memory (``messaging.node_state``); the database is touched
only to check that the node (or plan) belongs to the caller's group.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from control_plane.api.auth import CallDep
from control_plane.api.openapi_docs import documented
from control_plane.api.params import PathId
from control_plane.errors import Conflict, InvalidInput, NodeUnreachable, NotFound
from control_plane.messaging.node_state import LiveStatus, Telemetry
from control_plane.services import nodes
from shared import topics
from shared.topics import NodeTopic

KEEPALIVE_S = 15.0
"""An SSE comment this often keeps proxies from closing an idle stream."""


SSE_EVENT = Schema(
    type=OpenAPIType.OBJECT,
    required=["event", "data"],
    properties={
        "event": Schema(type=OpenAPIType.STRING, enum=["status", "msg"]),
        "data": Schema(
            type=OpenAPIType.STRING,
            content_media_type="application/json",
            description="``status``: the node's status; ``msg``: ``{name, data, received_at}``.",
        ),
    },
    description="One event of the stream (OpenAPI 3.1: the schema describes each event).",
)


class HistorySample(msgspec.Struct, frozen=True):
    time: float
    """When the agent recorded it (Unix seconds)."""
    value: Any


class LiveController(Controller):
    path = "/api/v2"
    tags = ["live"]

    @get(
        "/nodes/{node_id:int}/status",
        operation_id="get_node_status",
        summary="Node status",
        **documented(NotFound),
    )
    async def node_status(self, call: CallDep, node_id: FromPath[PathId]) -> LiveStatus:
        """``online``, ``offline`` (clean exit), ``neterror`` (link lost) or ``unknown``,
        with ``since``, ``last_seen``, link quality and what the agent said of itself."""
        await nodes.check_visible(call.principal, node_id)
        return call.messaging.states.status(node_id)

    @get(
        "/nodes/{node_id:int}/msg/{name:str}",
        operation_id="get_node_telemetry",
        summary="Latest telemetry",
        **documented(NotFound),
    )
    async def telemetry(
        self,
        call: CallDep,
        node_id: FromPath[PathId],
        name: FromPath[str],
    ) -> Telemetry:
        """The node's latest ``msg/<name>`` message and when the control plane got it."""
        await nodes.check_visible(call.principal, node_id)
        sample = call.messaging.states.telemetry(node_id, name)
        if sample is None:
            raise NotFound(f"node {node_id} has sent no {name!r} message")
        return sample

    @get(
        "/nodes/{node_id:int}/msg/{name:str}/history",
        operation_id="get_node_telemetry_history",
        summary="Recent telemetry, from the node",
        # The agent may refuse the question (422) or be busy (409).
        **documented(NotFound, NodeUnreachable, InvalidInput, Conflict),
    )
    async def telemetry_history(
        self,
        call: CallDep,
        node_id: FromPath[PathId],
        name: FromPath[str],
        seconds: Annotated[float, QueryParameter(name="time", gt=0, le=86_400)] = 60.0,
    ) -> list[HistorySample]:
        """The node's own recent ``msg/<name>`` samples (``time``: how far back, in
        seconds), asked of its agent over MQTT (``history``); 503 when it does not answer."""
        await nodes.check_visible(call.principal, node_id)
        samples = await call.messaging.ask(node_id, "history", {"topic": name, "time": seconds})
        return msgspec.convert(samples, list[HistorySample])

    @get(
        "/mqtt/{topic:path}",
        operation_id="read_mqtt_topic",
        summary="MQTT read bridge",
        **documented(NotFound),
    )
    async def read_topic(
        self,
        call: CallDep,
        topic: FromPath[Path],
    ) -> Any:
        """The last message of a node topic (``nodes/<id>/status``, ``.../network``,
        ``.../msg/<name>``) or ``plans/<id>/running``, for the caller's own nodes and
        plans, as the original's read bridge answered it."""
        name = str(topic).lstrip("/")
        parsed = topics.parse(name)
        if parsed is not None:
            await nodes.check_visible(call.principal, parsed.node_id)
            value: Any = None
            if parsed.kind is NodeTopic.STATUS:
                value = call.messaging.states.last_status(parsed.node_id)
            elif parsed.kind is NodeTopic.NETWORK:
                value = call.messaging.states.status(parsed.node_id).link
            elif parsed.kind is NodeTopic.MSG and parsed.name is not None:
                sample = call.messaging.states.telemetry(parsed.node_id, parsed.name)
                value = sample.data if sample else None
            if value is None:
                raise NotFound(f"no message on {name}")
            return value
        plan_id = topics.parse_plan_running(name)
        if plan_id is None:
            raise NotFound(f"{name} is not a topic the bridge reads")
        job = await call.services.jobs.running(call.principal, plan_id)
        return job if job is not None else {}

    @get(
        "/nodes/{node_id:int}/stream",
        operation_id="stream_node",
        summary="Live status and telemetry (server-sent events)",
        **documented(NotFound, answers={"text/event-stream": SSE_EVENT}),
    )
    async def stream(self, call: CallDep, node_id: FromPath[PathId]) -> ServerSentEvent:
        """A ``text/event-stream`` of the node: first its current status and latest
        telemetry, then every change. Events are ``status`` (data: the status) and
        ``msg`` (data: ``{name, data, received_at}``)."""
        await nodes.check_visible(call.principal, node_id)
        states = call.messaging.states

        async def events() -> AsyncIterator[ServerSentEventMessage]:
            with states.watch(node_id) as queue:
                yield _event("status", states.status(node_id))
                for sample in states.all_telemetry(node_id):
                    yield _event("msg", sample)
                while True:
                    try:
                        update = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except TimeoutError:
                        yield ServerSentEventMessage(comment="keep-alive")
                        continue
                    yield _event(update.kind, update.data)

        return ServerSentEvent(events())


def _event(kind: str, data: Any) -> ServerSentEventMessage:
    return ServerSentEventMessage(event=kind, data=msgspec.json.encode(data).decode())
