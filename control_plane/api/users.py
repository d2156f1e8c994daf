"""The caller's own account."""

from __future__ import annotations

from litestar import get

from control_plane.api.auth import Caller
from control_plane.api.openapi_docs import documented
from control_plane.services import accounts
from control_plane.services.accounts import UserOut


@get(
    "/api/v1/user",
    operation_id="current_user",
    tags=["users"],
    summary="Who am I",
    **documented(),
)
async def current_user(principal: Caller) -> UserOut:
    """The calling user with their group."""
    return accounts.user_of(principal)
