"""Short-lived signed viewer tokens, for players that cannot send an Authorization header.

A token is ``<node>.<point>.<user>.<expires unix s>.<HMAC-SHA256 of those, base64url>``:
it names the viewer (checked again at connect: the user must still exist and be in the
node's group) and is checked only when the player connects, so a short lifetime is
enough.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass


class BadViewerToken(ValueError):
    """The token is malformed, forged, expired or for another point; says which."""


@dataclass(frozen=True, slots=True)
class ViewerClaim:
    node_id: int
    point_id: int
    user_id: int
    expires_at: int
    """Unix seconds."""


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(key: bytes, claim: ViewerClaim) -> str:
    """The token for ``claim``, signed with ``key``."""
    body = f"{claim.node_id}.{claim.point_id}.{claim.user_id}.{claim.expires_at}"
    return f"{body}.{_mac(key, body)}"


def verify(key: bytes, token: str, *, node_id: int, point_id: int, now: float) -> ViewerClaim:
    """The claim of a valid token for this point; BadViewerToken saying why not."""
    parts = token.split(".")
    if len(parts) != 5 or not all(p.isdigit() for p in parts[:4]) or len(token) > 200:
        raise BadViewerToken("the viewer token is malformed")
    body, mac = token.rsplit(".", 1)
    if not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        raise BadViewerToken("the viewer token's signature is wrong")
    claim = ViewerClaim(*(int(p) for p in parts[:4]))
    if (claim.node_id, claim.point_id) != (node_id, point_id):
        raise BadViewerToken("the viewer token is for another point")
    if claim.expires_at <= now:
        raise BadViewerToken("the viewer token has expired")
    return claim
