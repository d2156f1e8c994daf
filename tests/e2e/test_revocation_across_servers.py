"""Two ``gosd serve`` processes on one database: a token revoked anywhere dies everywhere.

Each server remembers the tokens it has checked for a moment (no database read per
request). A revocation through one server is refused by that server at once, and by the
other within a second; so are revocations by the ``gosd`` CLI (another process again).
Runs on SQLite, and on PostgreSQL under ``GOSD_TEST_DATABASE=postgres``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CLIENT_ID, CLIENT_SECRET, password_form
from tests.e2e.processes import gosd, gosd_env, running
from tests.support import POLL_S, until

pytestmark = pytest.mark.integration

ME = "/api/v1/user/"
WITHIN_S = 1.0
"""What the other servers are allowed: the promise is "within a second"."""


@dataclass
class Servers:
    a: httpx.AsyncClient
    b: httpx.AsyncClient
    env: dict[str, str]
    """For ``gosd`` CLI commands on the same database."""


@pytest.fixture
async def servers(database_url: str, tmp_path: Path) -> AsyncIterator[Servers]:
    env_a = gosd_env(tmp_path / "a", GOSD_DATABASE_URL=database_url)
    env_b = gosd_env(tmp_path / "b", GOSD_DATABASE_URL=database_url)
    with ExitStack() as stack:
        url_a, _ = stack.enter_context(running("serve", "--port", "0", env=env_a))
        url_b, _ = stack.enter_context(running("serve", "--port", "0", env=env_b))
        async with (
            httpx.AsyncClient(base_url=url_a, timeout=10) as a,
            httpx.AsyncClient(base_url=url_b, timeout=10) as b,
        ):
            yield Servers(a, b, env_a)


async def _login(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    r = await client.post(
        "/oauth/token",
        data=password_form(username, password),
    )
    assert r.status_code == 200, r.text
    body: dict[str, str] = r.json()
    return {"Authorization": "Bearer " + body["access_token"], "refresh": body["refresh_token"]}


async def _node_reading_a_blob(
    servers: Servers, admin: dict[str, str]
) -> tuple[dict[str, Any], str, dict[str, str]]:
    """A node made through server a, the meta path of a blob it may read, and the node's
    token (from server b: a token is good on every server)."""
    node = (
        await servers.a.post(
            "/api/v2/nodes/", headers=_bearer(admin), json={"name": "d1", "type_name": "air"}
        )
    ).json()
    blob_id = (
        await servers.a.post(
            "/api/v2/blobs/", headers=_bearer(admin), files={"m": ("m.plan", b"{}")}
        )
    ).json()["m"]
    r = await servers.b.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": f"node-{node['id']}",
            "client_secret": node["secret"],
        },
    )
    assert r.status_code == 200, r.text
    node_auth = {"Authorization": "Bearer " + r.json()["access_token"]}
    return node, f"/api/v2/blobs/{blob_id}/meta", node_auth


def _bearer(auth: dict[str, str]) -> dict[str, str]:
    return {"Authorization": auth["Authorization"]}


async def _status(client: httpx.AsyncClient, path: str, auth: dict[str, str]) -> int:
    return (await client.get(path, headers=_bearer(auth))).status_code


async def _refused_within(
    client: httpx.AsyncClient, path: str, auth: dict[str, str], since: float, what: str
) -> None:
    """Poll until ``client`` answers 401, failing once ``WITHIN_S`` has passed ``since``."""

    async def refused() -> bool:
        status = await _status(client, path, auth)
        assert status in {200, 401}, status
        return status == 401

    await until(refused, f"the {what} is refused", within=WITHIN_S - (time.monotonic() - since))
    r = await client.get(path, headers=_bearer(auth))
    assert r.status_code == 401 and r.json()["code"] == "invalid_token", r.text


async def _accepted_by_both(servers: Servers, path: str, *tokens: dict[str, str]) -> None:
    """Each server checks (and so remembers) each token."""
    for auth in tokens:
        for client in (servers.a, servers.b):
            assert await _status(client, path, auth) == 200


async def _keep_using(
    servers: Servers, path: str, auth: dict[str, str], done: asyncio.Event
) -> None:
    while not done.is_set():
        for client in (servers.a, servers.b):
            assert await _status(client, path, auth) in {200, 401}
        await asyncio.sleep(POLL_S)


async def test_revoked_through_one_server_refused_there_at_once_and_by_the_other_within_1_s(
    servers: Servers,
) -> None:
    access = await _login(servers.a, "demo", "demodemo")
    by_refresh = await _login(servers.a, "demo", "demodemo")
    bystander = await _login(servers.b, "demo", "demodemo")
    await _accepted_by_both(servers, ME, access, by_refresh, bystander)

    r = await servers.a.post(
        "/oauth/revoke",
        data={
            "token": access["Authorization"][7:],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert r.status_code == 200
    revoked_at = time.monotonic()
    assert await _status(servers.a, ME, access) == 401
    await _refused_within(servers.b, ME, access, revoked_at, "access token revoked through a")

    # The other server revokes a refresh token: its access token dies with it.
    r = await servers.b.post(
        "/oauth/revoke",
        data={
            "token": by_refresh["refresh"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert r.status_code == 200
    revoked_at = time.monotonic()
    assert await _status(servers.b, ME, by_refresh) == 401
    await _refused_within(servers.a, ME, by_refresh, revoked_at, "refresh token revoked on b")

    assert await _status(servers.a, ME, bystander) == 200
    assert await _status(servers.b, ME, bystander) == 200

    # A node deleted through one server: its token dies with it.
    admin = bystander
    node, meta, node_auth = await _node_reading_a_blob(servers, admin)
    await _accepted_by_both(servers, meta, node_auth)

    deleted = await servers.a.delete(f"/api/v2/nodes/{node['id']}", headers=_bearer(admin))
    assert deleted.status_code == 200
    deleted_at = time.monotonic()
    assert await _status(servers.a, meta, node_auth) == 401
    await _refused_within(servers.b, meta, node_auth, deleted_at, "token of a deleted node")


async def test_revocations_by_the_cli_reach_both_servers_within_1_s(servers: Servers) -> None:
    """Removing a user, changing a password and re-keying a node all end their tokens."""
    admin = await _login(servers.a, "demo", "demodemo")
    removed = await _login(servers.b, "plain", "plainplain")
    re_passworded = await _login(servers.a, "other", "otherother")
    node, meta, re_keyed = await _node_reading_a_blob(servers, admin)
    await _accepted_by_both(servers, ME, admin, removed, re_passworded)
    await _accepted_by_both(servers, meta, re_keyed)

    cases = [
        (("users", "remove", "plain"), ME, removed),
        (("users", "passwd", "other", "a new password"), ME, re_passworded),
        (("nodes", "secret", str(node["id"])), meta, re_keyed),
    ]
    for command, path, auth in cases:
        await _accepted_by_both(servers, path, auth)
        async with asyncio.TaskGroup() as tg:
            # Both servers use the token all along, so they remember it when it is revoked.
            done = asyncio.Event()
            tg.create_task(_keep_using(servers, path, auth, done))
            await asyncio.to_thread(gosd, *command, env=servers.env)
            done_at = time.monotonic()
            done.set()
        for client in (servers.a, servers.b):
            await _refused_within(client, path, auth, done_at, " ".join(command))

    assert await _status(servers.a, ME, admin) == 200
    assert await _status(servers.b, ME, admin) == 200
    # The new password works; the user removed cannot log in.
    await _login(servers.b, "other", "a new password")
    r = await servers.a.post(
        "/oauth/token",
        data=password_form("plain", "plainplain"),
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_grant"
