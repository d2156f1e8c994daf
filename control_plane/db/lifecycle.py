"""Opening, migrating and closing the database."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate

from control_plane.db.config import tortoise_config

log = logging.getLogger(__name__)


async def upgrade(database_url: str) -> None:
    """Apply every pending schema migration (idempotent)."""
    _ensure_sqlite_dir(database_url)
    try:
        await migrate(config=tortoise_config(database_url))
    finally:
        await connections.close_all()


@contextlib.asynccontextmanager
async def open_database(database_url: str, *, run_migrations: bool = True) -> AsyncIterator[None]:
    """Make the database usable for the block, migrating it first.

    ``_enable_global_fallback`` lets request handlers, which run outside the context
    this was entered in, find the connections (Tortoise 1.x is context-based).
    """
    _ensure_sqlite_dir(database_url)
    config = tortoise_config(database_url)
    if run_migrations:
        try:
            await migrate(config=config)
        finally:
            await connections.close_all()
    await Tortoise.init(config=config, _enable_global_fallback=True)
    try:
        yield
    finally:
        await Tortoise.close_connections()  # also clears the global fallback


def _ensure_sqlite_dir(database_url: str) -> None:
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
