"""SELECTs for the lists clients poll most, written once by Tortoise and run as plain rows.

Measured on the node list (100 nodes x 3 points, SQLite, one process): the service took
2.5 ms, of which the database driver needed 0.5 ms. The rest was Tortoise: writing the
SQL again on every call (~0.2 ms a query) and converting every field of every row in
Python (``values()`` runs each column's ``to_python_value``; JSON through the stdlib).
A ``PlainSelect`` keeps Tortoise as the one author of the SQL (table and column names,
joins, placeholders of the database in use) but asks it once per kind of database, and
hands back the driver's rows by position; the caller converts the few fields that need it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from tortoise import connections
from tortoise.queryset import ValuesQuery

from control_plane.db.config import CONNECTION


class PlainSelect:
    """One SELECT: ``build`` makes it with placeholder values (e.g. ``group_id=0``) and the
    fields in the order the rows carry them; ``rows(*params)`` runs it with real values,
    which take the placeholders in the order ``build`` wrote them."""

    def __init__(self, build: Callable[[], ValuesQuery[Any]]) -> None:
        self._build = build
        self._sql: dict[str, tuple[str, int]] = {}
        """Dialect -> (SQL, number of parameters)."""

    async def rows(self, *params: Any) -> Sequence[Sequence[Any]]:
        db = connections.get(CONNECTION)
        dialect = db.capabilities.dialect
        written = self._sql.get(dialect)
        if written is None:
            query = self._build()
            query.sql()  # binds the query to the database in use
            sql, sample = query.query.get_parameterized_sql()
            written = self._sql[dialect] = (sql, len(sample))
        sql, count = written
        if len(params) != count:
            raise TypeError(f"this query takes {count} parameters, not {len(params)}")
        _, rows = await db.execute_query(sql, list(params))
        # sqlite3.Row or asyncpg Record (typed as dicts by Tortoise): both index by position.
        return cast(Sequence[Sequence[Any]], rows)


def json_value(text: str | None) -> Any:
    """A JSON column: the driver gives text (SQLite, and PostgreSQL's jsonb to asyncpg)."""
    return None if text is None else msgspec.json.decode(text)


def utc_datetime(value: datetime | str) -> datetime:
    """A datetime column as Tortoise would give it (``use_tz``, UTC): SQLite stores
    ISO text, PostgreSQL answers aware datetimes."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
