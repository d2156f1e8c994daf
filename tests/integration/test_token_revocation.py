"""Tokens the server has just checked (and remembers) still die at once when revoked here.

Each test uses a token first, so the bearer check answers from the server's cache of
verified tokens, then revokes it through the API and expects the very next request to
be refused.
"""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.conftest import CLIENT_ID, CLIENT_SECRET, ManualClock, login, password_form

ME = "/gosd/api/v1/user/"
TOKEN = "/gosd/oauth/token"
REVOKE = "/gosd/oauth/revoke"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


async def _password_login(client: AsyncTestClient) -> dict[str, str]:
    r = await client.post(
        TOKEN,
        data=password_form(),
    )
    assert r.status_code == 200, r.text
    body: dict[str, str] = r.json()
    return body


async def _node_token(client: AsyncTestClient, auth: dict[str, str]) -> tuple[int, str]:
    node = (
        await client.post(
            "/gosd/api/v2/nodes/", headers=auth, json={"name": "d1", "type_name": "air"}
        )
    ).json()
    r = await client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": f"node-{node['id']}",
            "client_secret": node["secret"],
        },
    )
    assert r.status_code == 200, r.text
    return node["id"], r.json()["access_token"]


async def test_a_revoked_access_token_is_refused_by_the_next_request(
    client: AsyncTestClient,
) -> None:
    auth = await login(client)
    assert (await client.get(ME, headers=auth)).json()["username"] == "demo"
    r = await client.post(
        REVOKE,
        data={
            "token": auth["Authorization"][7:],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert r.status_code == 200
    refused = await client.get(ME, headers=auth)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"
    assert "revoked" in refused.json()["error_message"]


async def test_revoking_the_refresh_token_ends_its_access_token_at_once(
    client: AsyncTestClient,
) -> None:
    pair = await _password_login(client)
    assert (await client.get(ME, headers=_bearer(pair["access_token"]))).status_code == 200
    r = await client.post(
        REVOKE,
        data={
            "token": pair["refresh_token"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert r.status_code == 200
    assert (await client.get(ME, headers=_bearer(pair["access_token"]))).status_code == 401


async def test_a_refresh_ends_the_old_access_token_at_once(client: AsyncTestClient) -> None:
    pair = await _password_login(client)
    assert (await client.get(ME, headers=_bearer(pair["access_token"]))).status_code == 200
    r = await client.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": pair["refresh_token"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert r.status_code == 200
    assert (await client.get(ME, headers=_bearer(pair["access_token"]))).status_code == 401
    assert (await client.get(ME, headers=_bearer(r.json()["access_token"]))).status_code == 200


async def test_a_deleted_nodes_token_is_refused_at_once(
    client: AsyncTestClient, auth: dict[str, str]
) -> None:
    node_id, token = await _node_token(client, auth)
    blob_id = (
        await client.post("/gosd/api/v2/blobs/", headers=auth, files={"m": ("m.plan", b"{}")})
    ).json()["m"]
    meta = f"/gosd/api/v2/blobs/{blob_id}/meta"
    assert (await client.get(meta, headers=_bearer(token))).status_code == 200
    assert (await client.delete(f"/gosd/api/v2/nodes/{node_id}", headers=auth)).status_code == 200
    refused = await client.get(meta, headers=_bearer(token))
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"


async def test_another_client_cannot_revoke_a_token_it_does_not_hold(
    client: AsyncTestClient, auth: dict[str, str]
) -> None:
    """RFC 7009 §2.1: the server answers 200 either way, and revokes nothing."""
    node = (
        await client.post(
            "/gosd/api/v2/nodes/", headers=auth, json={"name": "d1", "type_name": "air"}
        )
    ).json()
    assert (await client.get(ME, headers=auth)).status_code == 200
    r = await client.post(
        REVOKE,
        data={
            "token": auth["Authorization"][7:],
            "client_id": f"node-{node['id']}",
            "client_secret": node["secret"],
        },
    )
    assert r.status_code == 200
    assert (await client.get(ME, headers=auth)).status_code == 200
    wrong_secret = await client.post(
        REVOKE,
        data={"token": auth["Authorization"][7:], "client_id": CLIENT_ID, "client_secret": "x"},
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["code"] == "invalid_client"
    assert (await client.get(ME, headers=auth)).status_code == 200


async def test_a_remembered_token_still_expires_to_the_second(
    client: AsyncTestClient, auth: dict[str, str], clock: ManualClock
) -> None:
    assert (await client.get(ME, headers=auth)).status_code == 200
    clock.advance(7199)
    assert (await client.get(ME, headers=auth)).status_code == 200
    clock.advance(1)
    expired = await client.get(ME, headers=auth)
    assert expired.status_code == 401
    assert "expired" in expired.json()["error_message"]
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]


async def test_who_am_i_answers_the_callers_account_and_group(
    client: AsyncTestClient,
) -> None:
    plain = await login(client, "plain", "plainplain")
    for _ in range(2):  # checked against the database, then remembered: the same answer
        r = await client.get(ME, headers=plain)
        assert r.status_code == 200
        body = r.json()
        assert (body["username"], body["is_admin"], body["group"]["name"]) == (
            "plain",
            False,
            "demo",
        )
