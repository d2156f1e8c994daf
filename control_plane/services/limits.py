"""The longest value each stored text column takes, read from the models.

Every value the API stores (or looks up) is checked against these at the edge, so an
over-long value is a clear 4xx instead of the database refusing it (a 500): Tortoise
checks ``max_length`` even in a filter, and PostgreSQL enforces ``varchar(n)``. The
numbers live once, in ``db/models.py``; this module only names them.
"""

from __future__ import annotations

from typing import Any

from control_plane.db.models import (
    Blob,
    Group,
    Node,
    OAuthClient,
    Plan,
    PlanFile,
    Point,
    Token,
    User,
)


def column_length(model: Any, field: str) -> int:
    """The ``max_length`` of a ``CharField`` of ``model``."""
    length = model._meta.fields_map[field].max_length
    assert isinstance(length, int), f"{model.__name__}.{field} has no max_length"
    return length


USERNAME = column_length(User, "username")
GROUP_NAME = column_length(Group, "name")
CLIENT_ID = min(column_length(OAuthClient, "client_id"), column_length(Token, "client_id"))
"""A registered client's id, or a node's (``node-<id>``): tokens store either."""
NODE_NAME = column_length(Node, "name")
POINT_NAME = column_length(Point, "name")
BLOB_FILENAME = column_length(Blob, "filename")
BLOB_CONTENT_TYPE = column_length(Blob, "content_type")
PLAN_NAME = column_length(Plan, "name")
FILE_KEY = column_length(PlanFile, "key")
"""A key of a plan's ``files``; ``extra`` keys and job inputs share the limit."""

NUL = "\x00"
"""PostgreSQL's ``text``, ``varchar`` and ``jsonb`` cannot hold U+0000 (SQLite can): no
stored text may contain it, in a column or inside a JSON value."""


def nul_location(value: object, path: str = "") -> str | None:
    """Where in ``value`` (str, or lists and dicts of them, keys included) a NUL
    character is, as ``points[0].params.key`` (``""``: the value itself); None if nowhere."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and NUL in key:
                return here.replace(NUL, "\\0")
            found = nul_location(item, here)
            if found is not None:
                return found
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = nul_location(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
