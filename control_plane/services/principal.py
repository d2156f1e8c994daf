"""Who is calling: a person (``user``) or a node authenticated with its own secret."""

from __future__ import annotations

from typing import Literal

import msgspec

from control_plane.errors import PermissionDenied


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller of a request; every service call is scoped by it."""

    kind: Literal["user", "node"]
    id: int
    """User id or node id, per ``kind``."""
    group_id: int
    name: str
    is_admin: bool = False
    group_name: str = ""
    """The group's name as the token check read it (empty for the CLI's own scopes)."""

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    def require_admin(self) -> None:
        """Raise unless the caller is an administrator."""
        if not (self.is_user and self.is_admin):
            raise PermissionDenied("this needs an administrator")
