"""Who may publish and watch a live point, and the signed viewer URLs.

A node publishes only its own ``livestream_flv`` points; a person of the node's group
watches them, with a bearer token or a short-lived signed ``?token=`` (for players that
cannot send headers), whose user is checked again when the player connects.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import msgspec

from control_plane.db.models import Node, Point, User
from control_plane.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from control_plane.live import tokens
from control_plane.live.tokens import BadViewerToken, ViewerClaim
from control_plane.services.clock import Clock, utc_now
from control_plane.services.principal import Principal

LIVESTREAM_FLV = "livestream_flv"
DEFAULT_TOKEN_TTL_S = 60
"""A player connects at once, and the token is checked only then."""


def viewer_path(base_path: str, node_id: int, point_id: int) -> str:
    """Where a point's video is watched (and published): ``.../points/{id}/live.flv``."""
    return f"{base_path}/api/v2/nodes/{node_id}/points/{point_id}/live.flv"


async def _live_point(node_id: int, point_id: int) -> Point | None:
    return await Point.get_or_none(id=point_id, node_id=node_id)


async def check_publisher(principal: Principal, node_id: int, point_id: int) -> None:
    """Refuse a publisher that is not this node, or a point that is not its live video:
    a person 403, another node 403, an unknown point 404, another kind of point 409."""
    if principal.is_user:
        raise PermissionDenied("only a node's token publishes video, not a person's")
    if principal.id != node_id:
        raise PermissionDenied(
            f"node {principal.id} publishes only its own points, not node {node_id}'s"
        )
    point = await _live_point(node_id, point_id)
    if point is None:
        raise NotFound(f"node {node_id} has no point {point_id}")
    if point.point_type_name != LIVESTREAM_FLV:
        raise Conflict(f"point {point_id} is a {point.point_type_name} point, not {LIVESTREAM_FLV}")


async def check_viewer(principal: Principal, node_id: int, point_id: int) -> None:
    """NotFound unless the node is in the caller's group and the point its live video."""
    if not await Node.exists(id=node_id, group_id=principal.group_id):
        raise NotFound(f"no node {node_id}")
    point = await _live_point(node_id, point_id)
    if point is None or point.point_type_name != LIVESTREAM_FLV:
        raise NotFound(f"node {node_id} has no live video point {point_id}")


class ViewerToken(msgspec.Struct, frozen=True):
    """A signed URL to watch one point without an Authorization header."""

    token: str
    url: str
    """The viewer path with ``?token=``."""
    expires_at: datetime


@dataclass(frozen=True)
class LiveTokens:
    """Mints and checks viewer tokens with the server's key."""

    key: bytes
    max_ttl_s: int
    base_path: str
    clock: Clock = utc_now

    @classmethod
    def create(cls, key: str, max_ttl_s: int, base_path: str, clock: Clock = utc_now) -> LiveTokens:
        """With ``key`` (``GOSD_LIVE_TOKEN_KEY``), or a random key for this process."""
        raw = key.encode() if key else secrets.token_bytes(32)
        return cls(raw, max_ttl_s, base_path, clock)

    async def mint(
        self, principal: Principal, node_id: int, point_id: int, ttl_s: int | None = None
    ) -> ViewerToken:
        """A token for a person of the node's group (``ttl_s`` default 60 s, at most the
        setting); NotFound when they may not watch the point."""
        if not principal.is_user:
            raise PermissionDenied("viewer tokens are for people")
        ttl = DEFAULT_TOKEN_TTL_S if ttl_s is None else ttl_s
        if not 1 <= ttl <= self.max_ttl_s:
            raise InvalidInput(f"ttl_s must be 1..{self.max_ttl_s}", location="ttl_s")
        await check_viewer(principal, node_id, point_id)
        expires = int(self.clock().timestamp()) + ttl
        token = tokens.sign(self.key, ViewerClaim(node_id, point_id, principal.id, expires))
        url = f"{viewer_path(self.base_path, node_id, point_id)}?token={token}"
        return ViewerToken(token, url, datetime.fromtimestamp(expires, self.clock().tzinfo))

    async def viewer_of(self, token: str, node_id: int, point_id: int) -> Principal:
        """The person a token lets watch this point, if they still may; 401 if not."""
        try:
            claim = tokens.verify(
                self.key, token, node_id=node_id, point_id=point_id, now=self.clock().timestamp()
            )
        except BadViewerToken as exc:
            raise AuthenticationFailed(str(exc)) from None
        user = await User.get_or_none(id=claim.user_id)
        if user is None:
            raise AuthenticationFailed("the viewer token's user no longer exists")
        principal = Principal(kind="user", id=user.id, group_id=user.group_id, name=user.username)
        await check_viewer(principal, node_id, point_id)
        return principal


async def demo_viewer_url(tokens_: LiveTokens, username: str, node_id: int, ttl_s: int) -> str:
    """A viewer path with a long-lived token for ``username`` on the first live point of
    ``node_id`` (the demo prints it); prefix it with the server's origin."""
    user = await User.get_or_none(username=username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    point = await Point.filter(node_id=node_id, point_type_name=LIVESTREAM_FLV).order_by("id")
    if not point:
        raise NotFound(f"node {node_id} has no {LIVESTREAM_FLV} point")
    principal = Principal(kind="user", id=user.id, group_id=user.group_id, name=user.username)
    minted = await tokens_.mint(principal, node_id, point[0].id, ttl_s)
    return minted.url
