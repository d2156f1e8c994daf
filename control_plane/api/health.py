"""Liveness: the one route that needs no token."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from litestar import get

from control_plane.api.auth import PUBLIC
from control_plane.api.openapi_docs import documented


class Ok(msgspec.Struct, frozen=True):
    ok: str
    """The server's current time (ISO 8601, UTC)."""


@get(
    "/api/v2/ok",
    operation_id="ok",
    tags=["health"],
    opt={PUBLIC: True},
    summary="Is alive",
    **documented(),
)
async def ok() -> Ok:
    """Answers while the server runs; needs no token."""
    return Ok(ok=datetime.now(UTC).isoformat())
