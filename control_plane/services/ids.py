"""Row ids: the range a database id column can hold.

Ids from clients are checked against it at the edge, so an id like 10^20 is a clear
400/404 instead of a database overflow.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

MAX_ID = 2_147_483_647
"""Largest value of the 32-bit id columns (PostgreSQL ``integer``)."""

Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
"""A row id in a request body."""
