"""Every value the API stores or looks up is checked with the database's own limits.

An over-long value used to reach the database, which refused it (Tortoise checks
``max_length`` even in a filter; PostgreSQL enforces ``varchar(n)``): a 500. So did a
NUL character, which PostgreSQL's text and jsonb cannot hold. Both are now a 4xx in
the error envelope, and nothing changes. The lengths are the models' column lengths
(``services/limits.py``), so these tests follow them if a column grows. Run them on
PostgreSQL too (``GOSD_TEST_DATABASE=postgres``): SQLite stores what PostgreSQL refuses.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from control_plane.services import limits
from tests.conftest import CLIENT_ID, CLIENT_SECRET, DEMO_PASSWORD, DEMO_USER

Headers = dict[str, str]
TOO_LONG_CLIENT = "c" * (limits.CLIENT_ID + 1)
TOO_LONG_USER = "u" * (limits.USERNAME + 1)


def basic(client_id: str, secret: str) -> Headers:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


PASSWORD_GRANT = {"grant_type": "password", "username": DEMO_USER, "password": DEMO_PASSWORD}
REFRESH_GRANT = {"grant_type": "refresh_token", "refresh_token": "0" * 64}
CLIENT = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


@pytest.mark.parametrize(
    ("path", "form", "headers", "field"),
    [
        (
            "/gosd/oauth/token",
            {**PASSWORD_GRANT, **CLIENT, "username": TOO_LONG_USER},
            {},
            "username",
        ),
        (
            "/gosd/oauth/token",
            {**PASSWORD_GRANT, **CLIENT, "client_id": TOO_LONG_CLIENT},
            {},
            "client_id",
        ),
        ("/gosd/oauth/token", PASSWORD_GRANT, basic(TOO_LONG_CLIENT, CLIENT_SECRET), "client_id"),
        (
            "/gosd/api/v2/oauth/token",
            {**REFRESH_GRANT, "client_id": TOO_LONG_CLIENT, "client_secret": CLIENT_SECRET},
            {},
            "client_id",
        ),
        ("/gosd/oauth/token", REFRESH_GRANT, basic(TOO_LONG_CLIENT, CLIENT_SECRET), "client_id"),
        (
            "/gosd/oauth/revoke",
            {"token": "0" * 64, "client_id": TOO_LONG_CLIENT, "client_secret": CLIENT_SECRET},
            {},
            "client_id",
        ),
        (
            "/gosd/api/v2/oauth/revoke",
            {"token": "0" * 64},
            basic(TOO_LONG_CLIENT, "x"),
            "client_id",
        ),
    ],
)
async def test_over_long_ids_on_the_token_endpoints_are_a_400(
    client: AsyncTestClient, path: str, form: dict[str, str], headers: Headers, field: str
) -> None:
    r = await client.post(path, data=form, headers=headers)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == body["error"] == "invalid_request"
    assert (
        body["error_message"]
        == f"{field} may have at most {getattr(limits, field.upper())} characters"
    )


async def test_ids_as_long_as_the_columns_are_ordinary_wrong_credentials(
    client: AsyncTestClient,
) -> None:
    longest_user = "u" * limits.USERNAME
    r = await client.post(
        "/gosd/oauth/token", data={**PASSWORD_GRANT, **CLIENT, "username": longest_user}
    )
    assert (r.status_code, r.json()["code"]) == (400, "invalid_grant")
    longest_client = "c" * limits.CLIENT_ID
    r = await client.post(
        "/gosd/oauth/token", data={**PASSWORD_GRANT, **CLIENT, "client_id": longest_client}
    )
    assert (r.status_code, r.json()["code"]) == (401, "invalid_client")


def upload(content_type: str, data: bytes = b"payload") -> dict[str, Any]:
    return {"f": ("a.bin", data, content_type)}


async def test_a_file_part_with_an_over_long_content_type_is_refused(
    client: AsyncTestClient, auth: Headers
) -> None:
    too_long = "application/" + "x" * limits.BLOB_CONTENT_TYPE
    r = await client.post("/gosd/api/v2/blobs/", headers=auth, files=upload(too_long))
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["location"]) == ("invalid_input", "f")
    staging = client.app.state.services.blobs.store.staging_dir
    assert list(staging.iterdir()) == []
    # The longest content type the column holds is stored and given back.
    longest = "application/" + "x" * (limits.BLOB_CONTENT_TYPE - len("application/"))
    r = await client.post("/gosd/api/v2/blobs/", headers=auth, files=upload(longest))
    assert r.status_code == 201, r.text
    blob = r.json()["f"]
    assert blob == "1"  # the refused upload left no blob behind
    meta = await client.get(f"/gosd/api/v2/blobs/{blob}/meta", headers=auth)
    assert meta.json()["content_type"] == longest


async def test_replacing_a_file_with_an_over_long_content_type_changes_nothing(
    client: AsyncTestClient, auth: Headers
) -> None:
    r = await client.post("/gosd/api/v2/blobs/", headers=auth, files=upload("text/plain", b"old"))
    blob = r.json()["f"]
    before = (await client.get(f"/gosd/api/v2/blobs/{blob}/meta", headers=auth)).json()
    too_long = "text/" + "x" * limits.BLOB_CONTENT_TYPE
    r = await client.put(f"/gosd/api/v2/blobs/{blob}", headers=auth, files=upload(too_long, b"new"))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_input"
    assert (await client.get(f"/gosd/api/v2/blobs/{blob}/meta", headers=auth)).json() == before
    assert (await client.get(f"/gosd/api/v2/blobs/{blob}", headers=auth)).content == b"old"


async def test_a_plan_form_with_an_over_long_file_field_name_is_refused(
    client: AsyncTestClient, auth: Headers
) -> None:
    node = await client.post(
        "/gosd/api/v2/nodes/", headers=auth, json={"name": "d", "type_name": "air"}
    )
    node_id = str(node.json()["id"])
    fields: dict[str, Any] = {"name": (None, "p"), "node_id": (None, node_id)}
    too_long = "k" * (limits.FILE_KEY + 1)
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        files={**fields, too_long: ("notes.txt", b"notes", "text/plain")},
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_input"
    assert (await client.get("/gosd/api/v2/plans/", headers=auth)).json() == []
    assert (await client.get("/gosd/api/v2/blobs/1/meta", headers=auth)).status_code == 404
    # A key as long as the column takes is stored and given back.
    longest = "k" * limits.FILE_KEY
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        files={**fields, longest: ("notes.txt", b"notes", "text/plain")},
    )
    assert r.status_code == 201, r.text
    assert list(r.json()["files"]) == [longest]


async def test_text_with_a_nul_character_is_refused_wherever_it_would_be_stored(
    client: AsyncTestClient, auth: Headers
) -> None:
    node = await client.post(
        "/gosd/api/v2/nodes/", headers=auth, json={"name": "d", "type_name": "air"}
    )
    node_id = node.json()["id"]
    cases = [
        ("/gosd/api/v2/nodes/", {"name": "a\x00b", "type_name": "air"}, "name"),
        (
            "/gosd/api/v2/nodes/",
            {
                "name": "n",
                "type_name": "air",
                "points": [{"name": "p", "point_type_name": "map", "params": {"k": ["\x00"]}}],
            },
            "points[0].params.k[0]",
        ),
        (
            "/gosd/api/v2/plans/",
            {"name": "p", "node_id": node_id, "extra": {"k": "\x00"}},
            "extra.k",
        ),
        (
            "/gosd/api/v2/plans/",
            {"name": "p", "node_id": node_id, "description": "\x00"},
            "description",
        ),
    ]
    for path, body, location in cases:
        r = await client.post(path, headers=auth, json=body)
        assert r.status_code == 422, (body, r.text)
        assert (r.json()["code"], r.json()["location"]) == ("invalid_input", location)
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        files={"name": (None, "p"), "node_id": (None, str(node_id)), "note": (None, "a\x00")},
    )
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["location"]) == ("invalid_input", "note")
    r = await client.post(
        "/gosd/oauth/token", data={**PASSWORD_GRANT, **CLIENT, "username": "de\x00mo"}
    )
    assert (r.status_code, r.json()["code"]) == (400, "invalid_request")
    # Nothing was stored.
    assert [n["name"] for n in (await client.get("/gosd/api/v2/nodes/", headers=auth)).json()] == [
        "d"
    ]
    assert (await client.get("/gosd/api/v2/plans/", headers=auth)).json() == []
