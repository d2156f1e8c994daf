"""Nodes: the seed's read-only list (v1) and full management for admins (v2)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath

from control_plane.api.auth import CallDep, Caller
from control_plane.api.bodies import UnsupportedMediaType, read_json
from control_plane.api.openapi_docs import documented, struct_schema
from control_plane.api.params import PathId
from control_plane.errors import Conflict, InvalidInput, NotFound
from control_plane.messaging.node_state import LiveStatus, NodeStates
from control_plane.services import nodes
from control_plane.services.live_video import LIVESTREAM_FLV, viewer_path
from control_plane.services.nodes import NodeCreated, NodeOut, NodeWrite, PointOut

NODE_BODY = {"application/json": struct_schema(NodeWrite)}


class NodeView(NodeOut, frozen=True):
    """A node in the seed's shape plus its live ``status`` (reported over MQTT)."""

    status: LiveStatus


class PointView(PointOut, frozen=True, omit_defaults=True):
    """A point in v2: a ``livestream_flv`` point also carries its viewer ``url``."""

    url: str | None = None
    """Where the point's live video is watched (HTTP-FLV), for ``livestream_flv`` points."""


class NodeViewV2(msgspec.Struct, frozen=True):
    """A node in v2: the seed's fields, points with their ``url``, and live ``status``."""

    id: int
    name: str
    description: str
    points: list[PointView]
    type_name: str
    status: LiveStatus


def _point_v2(point: PointOut, base_path: str) -> PointView:
    url = (
        viewer_path(base_path, point.node_id, point.id)
        if point.point_type_name == LIVESTREAM_FLV
        else None
    )
    return PointView(
        id=point.id,
        name=point.name,
        node_id=point.node_id,
        point_type_id=point.point_type_id,
        point_type_name=point.point_type_name,
        params=point.params,
        url=url,
    )


def _view_v2(node: NodeOut, states: NodeStates, base_path: str) -> NodeViewV2:
    return NodeViewV2(
        id=node.id,
        name=node.name,
        description=node.description,
        points=[_point_v2(p, base_path) for p in node.points],
        type_name=node.type_name,
        status=states.status(node.id),
    )


def _view(node: NodeOut, states: NodeStates) -> NodeView:
    # Field by field (5x faster than keywords from ``asdict``; the node list builds one
    # per node on every request).
    return NodeView(
        id=node.id,
        name=node.name,
        description=node.description,
        points=node.points,
        type_name=node.type_name,
        status=states.status(node.id),
    )


class NodesV1Controller(Controller):
    path = "/api/v1/nodes"
    tags = ["nodes"]

    @get("/", operation_id="v1_list_nodes", summary="List nodes", **documented())
    async def list_nodes(self, call: CallDep) -> list[NodeView]:
        """The nodes of the caller's group with their points, in the seed's shape."""
        listed = await call.services.listings.nodes(call.principal)
        return [_view(n, call.messaging.states) for n in listed]


class NodesController(Controller):
    path = "/api/v2/nodes"
    tags = ["nodes"]

    @get("/", operation_id="list_nodes", summary="List nodes", **documented())
    async def list_nodes(self, call: CallDep) -> list[NodeViewV2]:
        """The nodes of the caller's group with their points and live status; live
        video points carry their viewer ``url``."""
        listed = await call.services.listings.nodes(call.principal)
        base = call.services.live_tokens.base_path
        return [_view_v2(n, call.messaging.states, base) for n in listed]

    @post(
        "/",
        operation_id="create_node",
        summary="Create a node (admin)",
        **documented(InvalidInput, UnsupportedMediaType, body=NODE_BODY),
    )
    async def create_node(self, request: Request[Any, Any, Any], principal: Caller) -> NodeCreated:
        """Create a node in the caller's group. The answer holds its secret, shown once."""
        return await nodes.create_node(principal, await read_json(request, NodeWrite))

    @get(
        "/{node_id:int}",
        operation_id="get_node",
        summary="Get a node",
        **documented(NotFound),
    )
    async def get_node(self, call: CallDep, node_id: FromPath[PathId]) -> NodeViewV2:
        """One node with its points (live video points with their ``url``) and live status."""
        node = await nodes.get_node(call.principal, node_id)
        return _view_v2(node, call.messaging.states, call.services.live_tokens.base_path)

    @put(
        "/{node_id:int}",
        operation_id="replace_node",
        summary="Replace a node (admin)",
        **documented(NotFound, InvalidInput, UnsupportedMediaType, body=NODE_BODY),
    )
    async def replace_node(
        self, request: Request[Any, Any, Any], principal: Caller, node_id: FromPath[PathId]
    ) -> NodeOut:
        """Replace a node's name, description, type and points; its secret stays."""
        return await nodes.replace_node(principal, node_id, await read_json(request, NodeWrite))

    @delete(
        "/{node_id:int}",
        operation_id="delete_node",
        status_code=200,
        summary="Delete a node (admin)",
        **documented(NotFound, Conflict),
    )
    async def delete_node(
        self,
        call: CallDep,
        node_id: FromPath[PathId],
    ) -> NodeOut:
        """Delete a node; 409 while plans still name it. Answers the deleted node. Its
        broker account and tokens end with it, and its retained messages are cleared."""
        node = await nodes.delete_node(call.principal, node_id)
        call.services.auth.forget_node(node_id)
        await call.messaging.forget_node(node_id)
        return node
