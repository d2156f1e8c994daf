"""Tokens, lock-out, node credentials and group isolation, through the real app."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import CLIENT_ID, CLIENT_SECRET, ManualClock, login, password_form

TOKEN = "/gosd/oauth/token"

PROTECTED = [
    ("GET", "/gosd/api/v1/nodes/"),
    ("GET", "/gosd/api/v1/user/"),
    ("GET", "/gosd/api/v2/nodes/"),
    ("POST", "/gosd/api/v2/nodes/"),
    ("GET", "/gosd/api/v2/nodes/1"),
    ("PUT", "/gosd/api/v2/nodes/1"),
    ("DELETE", "/gosd/api/v2/nodes/1"),
    ("POST", "/gosd/api/v2/blobs/"),
    ("GET", "/gosd/api/v2/blobs/1"),
    ("PUT", "/gosd/api/v2/blobs/1"),
    ("DELETE", "/gosd/api/v2/blobs/1"),
    ("GET", "/gosd/api/v2/plans/"),
    ("POST", "/gosd/api/v2/plans/"),
    ("GET", "/gosd/api/v2/plans/1"),
    ("PUT", "/gosd/api/v2/plans/1"),
    ("DELETE", "/gosd/api/v2/plans/1"),
    ("POST", "/gosd/api/v2/plans/1/jobs/"),
    ("GET", "/gosd/api/v2/plans/1/jobs/"),
    ("GET", "/gosd/api/v2/plans/1/jobs/1"),
    ("POST", "/gosd/api/v2/plans/1/jobs/1/cancel"),
    ("POST", "/gosd/api/v2/plans/1/jobs/cancel"),
    ("DELETE", "/gosd/api/v2/plans/1/jobs/running"),
    ("GET", "/gosd/api/v2/plans/1/running"),
]


async def test_every_protected_route_refuses_bad_tokens(
    client: AsyncTestClient, auth: dict[str, str], clock: ManualClock
) -> None:
    revoked = await login(client)
    r = await client.post(
        "/gosd/oauth/revoke",
        data={
            "token": revoked["Authorization"][7:],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert r.status_code == 200
    cases = {
        "none": {},
        "not bearer": {"Authorization": "Basic Zm9vOmJhcg=="},
        "malformed": {"Authorization": "Bearer not-a-token"},
        "unknown": {"Authorization": "Bearer " + "0" * 64},
        "revoked": revoked,
    }
    for method, path in PROTECTED:
        for name, headers in cases.items():
            r = await client.request(method, path, headers=headers)
            assert r.status_code == 401, (method, path, name, r.text)
            assert r.json()["code"] == "invalid_token"
            assert r.headers["www-authenticate"].startswith("Bearer")
    clock.advance(7201)
    for method, path in PROTECTED:
        r = await client.request(method, path, headers=auth)
        assert r.status_code == 401, (method, path)
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
        assert "expired" in r.json()["error_message"]


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded", "json"])
async def test_token_endpoint_takes_three_encodings(client: AsyncTestClient, encoding: str) -> None:
    form = password_form()
    if encoding == "multipart":
        r = await client.post(TOKEN, files={k: (None, v) for k, v in form.items()})
    elif encoding == "urlencoded":
        r = await client.post("/gosd/api/v2/oauth/token", data=form)
    else:
        r = await client.post(TOKEN, json=form)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["access_token"]) == 64
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 7200
    me = await client.get(
        "/gosd/api/v1/user/", headers={"Authorization": "Bearer " + body["access_token"]}
    )
    assert me.json()["username"] == "demo"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"password": "wrongwrong"}, 400, "invalid_grant"),
        ({"username": "ghost"}, 400, "invalid_grant"),
        ({"grant_type": "implicit"}, 400, "unsupported_grant_type"),
        ({"username": ""}, 400, "invalid_request"),
    ],
)
async def test_login_errors_follow_rfc_6749(
    client: AsyncTestClient, change: dict[str, str], status: int, code: str
) -> None:
    r = await client.post(TOKEN, data={**password_form(), **change})
    assert r.status_code == status
    assert r.json()["code"] == code
    assert r.json()["error"] == code
    assert "access_token" not in r.json()


async def test_repeated_failures_lock_the_account_then_it_opens_again(
    client: AsyncTestClient,
    clock: ManualClock,
) -> None:
    for _ in range(5):
        r = await client.post(TOKEN, data=password_form(password="wrongwrong"))
        assert r.status_code == 400
    locked = await client.post(TOKEN, data=password_form())  # even the right password
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 300
    assert locked.json()["code"] == "too_many_attempts"
    # another user is not affected
    assert (await client.post(TOKEN, data=password_form("other", "otherother"))).status_code == 200
    clock.advance(301)
    assert (await client.post(TOKEN, data=password_form())).status_code == 200


async def test_refresh_rotates_and_the_old_refresh_token_dies(client: AsyncTestClient) -> None:
    first = (await client.post(TOKEN, data=password_form())).json()
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    second = await client.post(TOKEN, data=refresh)
    assert second.status_code == 200
    assert second.json()["access_token"] != first["access_token"]
    again = await client.post(TOKEN, data=refresh)
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_grant"
    old = await client.get(
        "/gosd/api/v1/user/", headers={"Authorization": "Bearer " + first["access_token"]}
    )
    assert old.status_code == 401
    new = await client.get(
        "/gosd/api/v1/user/", headers={"Authorization": "Bearer " + second.json()["access_token"]}
    )
    assert new.status_code == 200


async def test_a_node_authenticates_with_its_own_secret_and_reaches_only_its_files(
    client: AsyncTestClient, auth: dict[str, str], other_auth: dict[str, str]
) -> None:
    node = (
        await client.post(
            "/gosd/api/v2/nodes/", headers=auth, json={"name": "d1", "type_name": "air"}
        )
    ).json()
    blob_id = (
        await client.post("/gosd/api/v2/blobs/", headers=auth, files={"m": ("m.plan", b"{}")})
    ).json()["m"]
    foreign = (
        await client.post("/gosd/api/v2/blobs/", headers=other_auth, files={"m": ("m.plan", b"[]")})
    ).json()["m"]
    wrong = await client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": f"node-{node['id']}",
            "client_secret": "0" * 64,
        },
    )
    assert wrong.status_code == 401
    r = await client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": f"node-{node['id']}",
            "client_secret": node["secret"],
        },
    )
    assert r.status_code == 200
    node_auth = {"Authorization": "Bearer " + r.json()["access_token"]}
    got = await client.get(f"/gosd/api/v2/blobs/{blob_id}", headers=node_auth)
    assert got.content == b"{}"
    assert (await client.get(f"/gosd/api/v2/blobs/{foreign}", headers=node_auth)).status_code == 404
    denied = await client.get("/gosd/api/v2/plans/", headers=node_auth)
    assert denied.status_code == 403
    assert denied.json()["code"] == "forbidden"


async def test_only_admins_manage_nodes(client: AsyncTestClient) -> None:
    plain = await login(client, "plain", "plainplain")
    r = await client.post(
        "/gosd/api/v2/nodes/", headers=plain, json={"name": "d", "type_name": "air"}
    )
    assert r.status_code == 403
    assert (await client.get("/gosd/api/v2/nodes/", headers=plain)).json() == []


async def test_groups_never_see_each_others_resources(
    client: AsyncTestClient, auth: dict[str, str], other_auth: dict[str, str]
) -> None:
    node = (
        await client.post(
            "/gosd/api/v2/nodes/", headers=auth, json={"name": "d1", "type_name": "air"}
        )
    ).json()
    blob = (
        await client.post("/gosd/api/v2/blobs/", headers=auth, files={"f": ("a", b"a")})
    ).json()["f"]
    plan = (
        await client.post(
            "/gosd/api/v2/plans/",
            headers=auth,
            json={"name": "p", "node_id": node["id"], "files": {"f": blob}},
        )
    ).json()
    await client.post(f"/gosd/api/v2/plans/{plan['id']}/jobs/", headers=auth)
    pid = plan["id"]
    for method, path, body in [
        ("GET", f"/gosd/api/v2/nodes/{node['id']}", None),
        ("PUT", f"/gosd/api/v2/nodes/{node['id']}", {"name": "x", "type_name": "air"}),
        ("DELETE", f"/gosd/api/v2/nodes/{node['id']}", None),
        ("GET", f"/gosd/api/v2/blobs/{blob}", None),
        ("DELETE", f"/gosd/api/v2/blobs/{blob}", None),
        ("GET", f"/gosd/api/v2/plans/{pid}", None),
        ("PUT", f"/gosd/api/v2/plans/{pid}", {"name": "x", "node_id": node["id"]}),
        ("DELETE", f"/gosd/api/v2/plans/{pid}", None),
        ("POST", f"/gosd/api/v2/plans/{pid}/jobs/", None),
        ("GET", f"/gosd/api/v2/plans/{pid}/jobs/", None),
        ("GET", f"/gosd/api/v2/plans/{pid}/jobs/1", None),
        ("POST", f"/gosd/api/v2/plans/{pid}/jobs/1/cancel", None),
        ("POST", f"/gosd/api/v2/plans/{pid}/jobs/cancel", None),
        ("DELETE", f"/gosd/api/v2/plans/{pid}/jobs/running", None),
        ("GET", f"/gosd/api/v2/plans/{pid}/running", None),
    ]:
        r = await client.request(method, path, headers=other_auth, json=body)
        assert r.status_code == 404, (method, path, r.text)
    # The other group cannot point its own plan at this group's node or blob either.
    r = await client.post(
        "/gosd/api/v2/plans/", headers=other_auth, json={"name": "steal", "node_id": node["id"]}
    )
    assert r.status_code == 422
    for path in ("/gosd/api/v1/nodes/", "/gosd/api/v2/nodes/", "/gosd/api/v2/plans/"):
        assert (await client.get(path, headers=other_auth)).json() == []
    # ... and nothing changed for the owners.
    job = (await client.get(f"/gosd/api/v2/plans/{pid}/jobs/1", headers=auth)).json()
    assert job["status"] == "queued"
    assert (await client.get(f"/gosd/api/v2/blobs/{blob}", headers=auth)).content == b"a"
