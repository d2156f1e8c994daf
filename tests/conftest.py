"""Fixtures shared by the whole suite: real databases, the real app, real tokens.

The database is SQLite, or PostgreSQL when ``GOSD_TEST_DATABASE=postgres`` (``just test``
runs the suite once with each; Tortoise binds its models to one kind of database per
process). The PostgreSQL run keeps only the tests that use the database (the
``database_url`` fixture, directly or through another): the others (the wire protocol,
the simulator, the agent, the CLI on its own data dir) would run the same code twice.
PostgreSQL is found at ``GOSD_TEST_POSTGRES_URL`` (default: the local server,
user postgres); each test gets a database of its own, dropped afterwards. Where no server
answers, the PostgreSQL run is skipped, except under CI (``CI=true``): there it fails.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from control_plane.app import create_app
from control_plane.db.lifecycle import open_database
from control_plane.services import accounts
from control_plane.settings import Settings

POSTGRES_URL = os.environ.get(
    "GOSD_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_DATABASE = os.environ.get("GOSD_TEST_DATABASE", "sqlite")

DEMO_USER, DEMO_PASSWORD = "demo", "demodemo"
CLIENT_ID, CLIENT_SECRET = "000000", "999999"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, deselect the tests that never touch the control plane's database."""
    if TEST_DATABASE != "postgres":
        return
    kept = [item for item in items if "database_url" in getattr(item, "fixturenames", ())]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


class ManualClock:
    """A wall clock that moves only when a test says so (no sleeping for expiry)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def unavailable(reason: str, tests: str) -> NoReturn:
    """Skip for want of something (``reason``); under CI, fail instead: CI must run every
    test, so a missing service or program there is a broken set-up, not a skip."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must run the {tests} tests)")
    pytest.skip(reason)


def _unreachable(exc: BaseException) -> None:
    unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}", "PostgreSQL")


async def _admin_execute(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_url(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


async def _seed(database_url: str) -> None:
    async with open_database(database_url):
        await accounts.add_user(DEMO_USER, DEMO_PASSWORD, is_admin=True)
        await accounts.add_user("other", "otherother", is_admin=True)
        await accounts.add_user("plain", "plainplain", group=DEMO_USER)
        await accounts.add_client(CLIENT_ID, CLIENT_SECRET)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database holding the test accounts, made once per session.

    Each test gets a copy (a file copy for SQLite, ``CREATE DATABASE ... TEMPLATE`` for
    PostgreSQL), so the slow argon2 hashing of the accounts is paid once.

    ``demo`` (admin, group demo), ``other`` (admin, group other) and ``plain`` (not an
    admin, group demo) log in through the client ``000000``/``999999``.
    """
    if TEST_DATABASE != "postgres":
        path = tmp_path_factory.mktemp("template") / "gosd.sqlite3"
        asyncio.run(_seed(f"sqlite://{path}"))
        yield str(path)
        return
    name = "gosd_template_" + secrets.token_hex(6)
    try:
        asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        _unreachable(exc)
    try:
        asyncio.run(_seed(_pg_url(name)))
        yield name
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def database_url(template_database: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database of the kind this run tests, holding the test accounts."""
    if TEST_DATABASE != "postgres":
        path = tmp_path / "gosd.sqlite3"
        shutil.copyfile(template_database, path)
        yield f"sqlite://{path}"
        return
    name = "gosd_test_" + secrets.token_hex(6)
    await _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    try:
        yield _pg_url(name)
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings of a fresh control plane on that database."""
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, mqtt_listen="127.0.0.1:0"
    )


@pytest.fixture
async def client(settings: Settings, clock: ManualClock) -> AsyncIterator[AsyncTestClient]:
    """The real app, in process, over ASGI."""
    async with AsyncTestClient(create_app(settings, clock=clock)) as c:
        yield c


def password_form(username: str = DEMO_USER, password: str = DEMO_PASSWORD) -> dict[str, str]:
    """The token request of a person logging in through the demo client."""
    return {
        "grant_type": "password",
        "username": username,
        "password": password,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


async def login(
    client: AsyncTestClient | httpx.AsyncClient,
    username: str = DEMO_USER,
    password: str = DEMO_PASSWORD,
    *,
    path: str = "/gosd/oauth/token",
) -> dict[str, str]:
    """Log in with the password grant; answers the Authorization header. ``path``:
    ``/oauth/token`` for a client whose base URL already ends in the base path."""
    r = await client.post(path, data=password_form(username, password))
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


@pytest.fixture
async def auth(client: AsyncTestClient) -> dict[str, str]:
    """Headers of the ``demo`` admin."""
    return await login(client)


@pytest.fixture
async def other_auth(client: AsyncTestClient) -> dict[str, str]:
    """Headers of ``other``, an admin of another group."""
    return await login(client, "other", "otherother")


@pytest.fixture
def missions_dir() -> Path:
    """The handbook's real mission files, beside the checkout."""
    path = Path(__file__).resolve().parents[2] / "shared" / "missions"
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the real mission files are not beside this checkout")
    return path
