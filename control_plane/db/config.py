"""Tortoise configuration built from a database URL."""

from __future__ import annotations

from typing import Any

APP_LABEL = "gosd"
MODELS_MODULE = "control_plane.db.models"
MIGRATIONS_MODULE = "control_plane.db.migrations"
CONNECTION = "default"
"""Tortoise's name for the one database connection (``tortoise.connections.get``)."""


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config dict for one database; ``postgresql://`` is accepted too."""
    if database_url.startswith("postgresql://"):
        database_url = "postgres://" + database_url.removeprefix("postgresql://")
    return {
        "connections": {CONNECTION: database_url},
        "apps": {
            APP_LABEL: {
                "models": [MODELS_MODULE],
                "migrations": MIGRATIONS_MODULE,
                "default_connection": CONNECTION,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# Used only by `tortoise -c control_plane.db.config.MIGRATION_AUTHORING makemigrations`
# when a developer changes the models; never by the running server.
MIGRATION_AUTHORING = tortoise_config("sqlite://:memory:")
