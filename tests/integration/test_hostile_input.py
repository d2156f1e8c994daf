"""Malformed and hostile input: always a 4xx in the error envelope, never a change."""

from __future__ import annotations

import os
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

Headers = dict[str, str]
JSON = {"content-type": "application/json"}
MULTIPART = {"content-type": "multipart/form-data; boundary=B"}


def bodies(node_id: int) -> list[tuple[str, str, dict[str, str], bytes]]:
    """(method, path, headers, raw body) cases that must all be refused."""
    plan_ok = f'{{"name": "p", "node_id": {node_id}}}'.encode()
    return [
        ("POST", "/gosd/api/v2/plans/", JSON, b"{bad json"),
        ("POST", "/gosd/api/v2/plans/", JSON, b"[1, 2, 3]"),
        ("POST", "/gosd/api/v2/plans/", JSON, b'"just a string"'),
        ("POST", "/gosd/api/v2/plans/", JSON, b'{"name": 5, "node_id": "x"}'),
        ("POST", "/gosd/api/v2/plans/", JSON, b'{"node_id": 1}'),
        ("POST", "/gosd/api/v2/plans/", JSON, b'{"name": "' + b"x" * 300 + b'", "node_id": 1}'),
        (
            "POST",
            "/gosd/api/v2/plans/",
            JSON,
            f'{{"name": "p", "node_id": {node_id}, "files": {{"f": 7}}}}'.encode(),
        ),
        (
            "POST",
            "/gosd/api/v2/plans/",
            JSON,
            f'{{"name": "p", "node_id": {node_id}, "extra": {{"k": ["list"]}}}}'.encode(),
        ),
        ("POST", "/gosd/api/v2/plans/", JSON, b'{"name": "p", "node_id": 99999999999999999999}'),
        ("POST", "/gosd/api/v2/plans/", JSON, b"\xff\xfe\x00garbage"),
        ("POST", "/gosd/api/v2/plans/", {"content-type": "text/plain"}, plan_ok),
        ("POST", "/gosd/api/v2/plans/", MULTIPART, os.urandom(2048)),
        ("POST", "/gosd/api/v2/plans/", {"content-type": "multipart/form-data"}, b"--B--"),
        ("POST", "/gosd/api/v2/blobs/", MULTIPART, os.urandom(4096)),
        (
            "POST",
            "/gosd/api/v2/blobs/",
            MULTIPART,
            b'--B\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\ntruncat',
        ),
        (
            "POST",
            "/gosd/api/v2/blobs/",
            MULTIPART,
            b'--B\r\nContent-Disposition: form-data; name="f"\r\n\r\nno file\r\n--B--\r\n',
        ),
        ("POST", "/gosd/api/v2/blobs/", JSON, b"{}"),
        (
            "POST",
            "/gosd/api/v2/blobs/",
            MULTIPART,
            b'--B\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n1\r\n'
            b'--B\r\nContent-Disposition: form-data; name="f"; filename="b"\r\n\r\n2\r\n--B--\r\n',
        ),
        ("POST", "/gosd/api/v2/nodes/", JSON, b'{"name": "n", "type_name": "submarine"}'),
        (
            "POST",
            "/gosd/api/v2/nodes/",
            JSON,
            b'{"name": "n", "type_name": "air", "points": [{"name": "p", "point_type_name": "x"}]}',
        ),
        ("POST", "/gosd/api/v2/nodes/", JSON, b'{"name": "", "type_name": "air"}'),
        ("POST", "/gosd/api/v2/nodes/", JSON, b'{"name": "n", "type_name": "air", "evil": 1}'),
        ("PUT", f"/gosd/api/v2/nodes/{node_id}", JSON, b"null"),
        ("POST", "/gosd/api/v2/plans/1/jobs/", JSON, b'{"extra": {"on_finish": "crash"}}'),
        ("POST", "/gosd/api/v2/plans/1/jobs/", JSON, b'{"unknown": true}'),
        ("POST", "/gosd/oauth/token", JSON, b"[]"),
        ("POST", "/gosd/oauth/token", JSON, b'{"grant_type": 1}'),
        ("POST", "/gosd/oauth/token", {"content-type": "text/plain"}, b"grant_type=password"),
        ("POST", "/gosd/oauth/token", MULTIPART, os.urandom(512)),
        (
            "POST",
            "/gosd/oauth/token",
            {"content-type": "application/x-www-form-urlencoded", "authorization": "Basic !!!"},
            b"grant_type=password",
        ),
    ]


PATHS_WITH_ODD_IDS = [
    "/gosd/api/v2/plans/0",
    "/gosd/api/v2/plans/-1",
    "/gosd/api/v2/plans/99999999999999999999",
    "/gosd/api/v2/plans/abc",
    "/gosd/api/v2/blobs/0",
    "/gosd/api/v2/blobs/..%2F..%2Fetc",
    "/gosd/api/v2/nodes/999999",
    "/gosd/api/v2/plans/1/jobs/0",
    "/gosd/api/v2/plans/1/jobs/99999999999999999999",
    "/gosd/api/v3/nothing",
]


async def snapshot(client: AsyncTestClient, auth: Headers) -> list[Any]:
    return [
        (await client.get(path, headers=auth)).json()
        for path in ("/gosd/api/v2/nodes/", "/gosd/api/v2/plans/", "/gosd/api/v2/plans/1/jobs/")
    ]


@pytest.fixture
async def world(client: AsyncTestClient, auth: Headers) -> int:
    node = await client.post(
        "/gosd/api/v2/nodes/", headers=auth, json={"name": "d", "type_name": "air"}
    )
    node_id = int(node.json()["id"])
    plan = await client.post(
        "/gosd/api/v2/plans/", headers=auth, json={"name": "p", "node_id": node_id}
    )
    assert plan.json()["id"] == 1
    return node_id


async def test_malformed_bodies_are_refused_and_change_nothing(
    client: AsyncTestClient, auth: Headers, world: int
) -> None:
    before = await snapshot(client, auth)
    for method, path, headers, body in bodies(world):
        r = await client.request(method, path, headers={**auth, **headers}, content=body)
        assert 400 <= r.status_code < 500, (method, path, body[:60], r.status_code, r.text)
        envelope = r.json()
        assert isinstance(envelope["error_message"], str), (path, body[:60])
        assert isinstance(envelope["code"], str)
    assert await snapshot(client, auth) == before
    staging = client.app.state.services.blobs.store.staging_dir
    assert list(staging.iterdir()) == []  # no half-written upload left behind


async def test_odd_ids_and_unknown_routes(
    client: AsyncTestClient, auth: Headers, world: int
) -> None:
    for path in PATHS_WITH_ODD_IDS:
        for method in ("GET", "PUT", "DELETE", "POST"):
            r = await client.request(method, path, headers=auth)
            assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
            assert "error_message" in r.json()


async def test_an_empty_body_says_what_to_send(
    client: AsyncTestClient, auth: Headers, world: int
) -> None:
    for method, path, fields in [
        ("POST", "/gosd/api/v2/nodes/", "name and type_name"),
        ("PUT", f"/gosd/api/v2/nodes/{world}", "name and type_name"),
        ("POST", "/gosd/api/v2/plans/", "name and node_id"),
        ("PUT", "/gosd/api/v2/plans/1", "name and node_id"),
    ]:
        r = await client.request(method, path, headers={**auth, **JSON}, content=b"")
        assert r.status_code == 400, (method, path, r.text)
        assert r.json() == {
            "error_message": f"the body is empty: send a JSON object with {fields}",
            "code": "bad_request",
        }


async def test_one_kind_of_mistake_has_one_status_whatever_the_encoding(
    client: AsyncTestClient, auth: Headers, world: int
) -> None:
    """A value that fails validation is 422 ``invalid_input`` naming the field (JSON,
    multipart, path or query alike); a body that cannot be read at all is 400."""
    long_name = "x" * 300
    invalid = [
        await client.post(
            "/gosd/api/v2/plans/", headers=auth, json={"name": long_name, "node_id": world}
        ),
        await client.post(
            "/gosd/api/v2/plans/",
            headers=auth,
            files={"name": (None, long_name), "node_id": (None, str(world))},
        ),
        await client.put(
            "/gosd/api/v2/plans/1", headers=auth, json={"name": long_name, "node_id": world}
        ),
        await client.post(
            "/gosd/api/v2/nodes/", headers=auth, json={"name": long_name, "type_name": "air"}
        ),
        await client.get(f"/gosd/api/v2/nodes/{world}/msg/position/history?time=0", headers=auth),
        await client.get("/gosd/api/v2/plans/0", headers=auth),
    ]
    for r, location in zip(
        invalid, ["name", "name", "name", "name", "time", "plan_id"], strict=True
    ):
        assert r.status_code == 422, (r.request.url, r.text)
        assert (r.json()["code"], r.json()["location"]) == ("invalid_input", location), r.text
    unreadable = [
        await client.post("/gosd/api/v2/plans/", headers={**auth, **JSON}, content=b"{bad"),
        await client.put("/gosd/api/v2/plans/1", headers={**auth, **JSON}, content=b"{bad"),
        await client.post("/gosd/api/v2/nodes/", headers={**auth, **JSON}, content=b"{bad"),
        await client.post("/gosd/api/v2/plans/", headers={**auth, **MULTIPART}, content=b"--B"),
    ]
    for r in unreadable:
        assert r.status_code == 400, (r.request.url, r.text)
        assert r.json()["code"] == "bad_request"
