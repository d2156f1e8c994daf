"""Nodes (drones and depots) and their points."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import msgspec
from tortoise.transactions import in_transaction

from control_plane.db.models import Group, Node, Plan, Point, Token
from control_plane.errors import Conflict, InvalidInput, NotFound
from control_plane.services import limits
from control_plane.services.accounts import group_by_name
from control_plane.services.clock import Clock, utc_now
from control_plane.services.hashing import hash_node_secret, new_secret, verify_node_secret
from control_plane.services.listing_cache import NODE_WRITES
from control_plane.services.plain_select import PlainSelect, json_value
from control_plane.services.principal import Principal
from shared.enums import NodeType
from shared.topics import node_id_of_username


class PointType(StrEnum):
    """Features a node can offer. Each has a stable numeric id (``point_type_id``)."""

    DRONE_STATUS = "drone_status"
    LIVESTREAM_FLV = "livestream_flv"
    DEPOT_STATUS = "depot_status"
    MAP = "map"
    BATTERY = "battery"
    WEATHER = "weather"
    CONSOLE = "console"

    @property
    def type_id(self) -> int:
        return _POINT_TYPE_IDS[self]


# Ids are part of the API: append new types, never renumber. ``livestream_flv`` is 2 as
# in the seed's example.
_POINT_TYPE_IDS = {t: i for i, t in enumerate(PointType, start=1)}
_POINT_TYPE_IDS_BY_NAME = {t.value: i for t, i in _POINT_TYPE_IDS.items()}

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.NODE_NAME)]
PointName = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.POINT_NAME)]
Description = Annotated[str, msgspec.Meta(max_length=10_000)]


class PointOut(msgspec.Struct, frozen=True):
    id: int
    name: str
    node_id: int
    point_type_id: int
    point_type_name: str
    params: dict[str, Any]


class NodeOut(msgspec.Struct, frozen=True):
    """A node in the seed's shape (``GET /api/v1/nodes/``)."""

    id: int
    name: str
    description: str
    points: list[PointOut]
    type_name: str


class NodeCreated(msgspec.Struct, frozen=True):
    """A new node and its secret, which is shown only this once."""

    id: int
    name: str
    description: str
    points: list[PointOut]
    type_name: str
    secret: str


class PointWrite(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: PointName
    point_type_name: PointType
    params: dict[str, Any] = {}
    id: int | None = None
    """Accepted and ignored, so a node read from the API can be written back as it is."""
    node_id: int | None = None
    point_type_id: int | None = None


class NodeWrite(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of node create and replace, in the shape the node list answers."""

    name: Name
    type_name: NodeType
    description: Description = ""
    points: Annotated[list[PointWrite], msgspec.Meta(max_length=100)] = []
    id: int | None = None
    """Accepted and ignored (see ``PointWrite.id``)."""


def _node_out(node: Node, points: list[Point]) -> NodeOut:
    return NodeOut(
        id=node.id,
        name=node.name,
        description=node.description,
        points=[_point_out(p) for p in points],
        type_name=node.type_name,
    )


def _point_out(p: Point) -> PointOut:
    return PointOut(
        id=p.id,
        name=p.name,
        node_id=p.node_id,
        point_type_id=PointType(p.point_type_name).type_id,
        point_type_name=p.point_type_name,
        params=p.params,
    )


_NODE_LIST = PlainSelect(
    lambda: (
        Node.filter(group_id=0)
        .order_by("id", "points__id")
        .values(
            "id",
            "name",
            "description",
            "type_name",
            "points__id",
            "points__name",
            "points__point_type_name",
            "points__params",
        )
    )
)
"""A group's nodes joined with their points (none: one row of NULL point fields)."""


async def list_nodes(principal: Principal) -> list[NodeOut]:
    """The caller's group's nodes with their points, in id order.

    One query of plain rows (see ``plain_select``): the node list is the fleet's most
    polled route, and ORM instances, or even Tortoise's ``values()``, cost several times
    what the database does.
    """
    result: list[NodeOut] = []
    node: NodeOut | None = None
    for row in await _NODE_LIST.rows(principal.group_id):
        node_id, name, description, type_name, point_id, point_name, point_type, params = row
        if node is None or node.id != node_id:
            node = NodeOut(
                id=node_id, name=name, description=description, points=[], type_name=type_name
            )
            result.append(node)
        if point_id is not None:
            node.points.append(
                PointOut(
                    id=point_id,
                    name=point_name,
                    node_id=node_id,
                    point_type_id=_POINT_TYPE_IDS_BY_NAME[point_type],
                    point_type_name=point_type,
                    params=json_value(params),
                )
            )
    return result


async def _own_node(principal: Principal, node_id: int) -> Node:
    node = await Node.get_or_none(id=node_id, group_id=principal.group_id)
    if node is None:
        raise NotFound(f"no node {node_id}")
    return node


async def check_visible(principal: Principal, node_id: int) -> None:
    """NotFound unless the node belongs to the caller's group."""
    if not await Node.exists(id=node_id, group_id=principal.group_id):
        raise NotFound(f"no node {node_id}")


async def get_node(principal: Principal, node_id: int) -> NodeOut:
    node = await _own_node(principal, node_id)
    return _node_out(node, await Point.filter(node_id=node.id).order_by("id"))


async def create_node(
    principal: Principal, data: NodeWrite, *, group: str | None = None
) -> NodeCreated:
    """Create a node in the caller's group (or ``group``, for the CLI) with a new secret."""
    principal.require_admin()
    secret = new_secret()
    try:
        async with in_transaction():
            group_id = (await group_by_name(group)).id if group else principal.group_id
            node = await Node.create(
                name=data.name,
                description=data.description,
                type_name=data.type_name.value,
                group_id=group_id,
                secret_hash=hash_node_secret(secret),
            )
            points = await _write_points(node, data.points)
    finally:
        NODE_WRITES.bump()
    out = _node_out(node, points)
    return NodeCreated(**msgspec.structs.asdict(out), secret=secret)


async def replace_node(principal: Principal, node_id: int, data: NodeWrite) -> NodeOut:
    """Replace a node's fields and points (the secret is kept)."""
    principal.require_admin()
    try:
        async with in_transaction():
            node = await _own_node(principal, node_id)
            node.name, node.description = data.name, data.description
            node.type_name = data.type_name.value
            await node.save()
            await Point.filter(node_id=node.id).delete()
            points = await _write_points(node, data.points)
    finally:
        NODE_WRITES.bump()
    return _node_out(node, points)


async def delete_node(principal: Principal, node_id: int) -> NodeOut:
    """Delete a node; refused while plans still name it."""
    principal.require_admin()
    try:
        async with in_transaction():
            out = await get_node(principal, node_id)
            plan_ids = (
                await Plan.filter(node_id=node_id).order_by("id").values_list("id", flat=True)
            )
            if plan_ids:
                raise Conflict(
                    f"node {node_id} is used by plans {list(plan_ids)}: delete them first",
                    plans=list(plan_ids),
                )
            await Node.filter(id=node_id).delete()
    finally:
        NODE_WRITES.bump()
    return out


async def rotate_secret(principal: Principal, node_id: int, *, clock: Clock = utc_now) -> str:
    """Give a node a new secret; the old one stops working at once, and so do the tokens
    it was traded for."""
    principal.require_admin()
    secret = new_secret()
    async with in_transaction():
        node = await _own_node(principal, node_id)
        node.secret_hash = hash_node_secret(secret)
        await node.save(update_fields=["secret_hash"])
        await Token.filter(node_id=node.id, revoked_at=None).update(revoked_at=clock())
    return secret


async def _write_points(node: Node, points: list[PointWrite]) -> list[Point]:
    names = [p.name for p in points]
    if len(set(names)) != len(names):
        raise InvalidInput("point names must be unique within a node", location="points")
    created = []
    for p in points:
        try:
            msgspec.json.encode(p.params)
        except (TypeError, ValueError):
            raise InvalidInput("params must be a JSON object", location="points.params") from None
        created.append(
            await Point.create(
                node=node, name=p.name, point_type_name=p.point_type_name.value, params=p.params
            )
        )
    return created


async def default_group_name() -> str:
    """The group a node joins when none is named: the oldest group, else ``default``."""
    group = await Group.all().order_by("id").first()
    return group.name if group else "default"


async def list_all_nodes() -> list[tuple[str, NodeOut]]:
    """Every node of every group, with its group's name (for the operator's CLI)."""
    result: list[tuple[str, NodeOut]] = []
    for group in await Group.all().order_by("id"):
        scope = Principal(kind="user", id=0, group_id=group.id, name="gosd-cli")
        result.extend((group.name, n) for n in await list_nodes(scope))
    return sorted(result, key=lambda gn: gn[1].id)


async def remove_node(node_id: int) -> None:
    """Delete a node of any group (for the operator's CLI); refused while plans use it."""
    node = await Node.get_or_none(id=node_id)
    if node is None:
        raise NotFound(f"no node {node_id}")
    scope = Principal(kind="user", id=0, group_id=node.group_id, name="gosd-cli", is_admin=True)
    await delete_node(scope, node_id)


async def rotate_any_secret(node_id: int) -> tuple[str, NodeType]:
    """Give a node of any group a new secret (for the operator's CLI); answers it and the
    node's type (its agent configuration depends on it)."""
    node = await Node.get_or_none(id=node_id)
    if node is None:
        raise NotFound(f"no node {node_id}")
    scope = Principal(kind="user", id=0, group_id=node.group_id, name="gosd-cli", is_admin=True)
    return await rotate_secret(scope, node_id), NodeType(node.type_name)


async def broker_accounts() -> list[tuple[int, str]]:
    """``(node id, stored $7$ secret hash)`` of every node, for a broker password file."""
    rows = await Node.all().order_by("id").values_list("id", "secret_hash")
    return [(int(node_id), str(secret_hash)) for node_id, secret_hash in rows]


_MAX_NODE_ID = 2**31 - 1
"""Ids beyond a 32-bit column cannot exist; PostgreSQL would reject the query instead."""

# A real hash to check against when the account does not exist, so an unknown node
# costs the same time as a wrong secret.
_ABSENT_NODE_HASH = hash_node_secret(new_secret())


async def check_broker_password(username: str, password: str) -> bool:
    """Whether a node account (``node-{id}``) may log in to the broker with ``password``.

    False for any other username, and for nodes that do not exist (never did, or were
    removed). The control plane's own account is not in the database: its caller checks it.
    """
    node_id = node_id_of_username(username)
    known = node_id is not None and 0 < node_id <= _MAX_NODE_ID
    node = await Node.get_or_none(id=node_id) if known else None
    stored = node.secret_hash if node is not None else _ABSENT_NODE_HASH
    return verify_node_secret(stored, password) and node is not None
