"""The node and plan lists answer, byte for byte, what reading each item answers.

The lists are built from plain rows in one query (the most polled routes) and kept for a
moment between changes; the single reads come from ORM instances. Any difference in a
field's value, its JSON rendering (unicode, numbers, datetimes), the order of points and
files, or a change the list missed would show here.
"""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

Headers = dict[str, str]

PARAMS: list[dict[str, Any]] = [
    {},
    {"url": "rtmp://cam/live", "fps": 15, "ratio": 1.5, "tiny": 1e-7, "big": 2**53},
    {"名称": "航拍 \u00e9\u20ac \U0001f681", "nested": {"list": [1, "two", None, True]}},
]


async def _node(client: AsyncTestClient, auth: Headers, name: str, points: int) -> int:
    r = await client.post(
        "/gosd/api/v2/nodes/",
        headers=auth,
        json={
            "name": name,
            "type_name": "air" if points else "depot",
            "description": f"{name} — described",
            "points": [
                {"name": f"p{i}", "point_type_name": kind, "params": PARAMS[i]}
                for i, kind in enumerate(["livestream_flv", "drone_status", "battery"][:points])
            ],
        },
    )
    assert r.status_code == 201, r.text
    node_id: int = r.json()["id"]
    return node_id


async def _blobs(client: AsyncTestClient, auth: Headers, count: int) -> list[str]:
    r = await client.post(
        "/gosd/api/v2/blobs/",
        headers=auth,
        files={f"f{i}": (f"f{i}.txt", f"file {i}".encode()) for i in range(count)},
    )
    assert r.status_code == 201, r.text
    return [r.json()[f"f{i}"] for i in range(count)]


def _joined(items: list[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


async def test_the_node_lists_answer_what_each_node_read_answers(
    client: AsyncTestClient, auth: Headers, other_auth: Headers
) -> None:
    ids = [
        await _node(client, auth, "drone ü", 3),
        await _node(client, auth, "depot", 0),
        await _node(client, auth, "drone 2", 1),
    ]
    await _node(client, other_auth, "not ours", 2)
    # A node replaced gets new points after the others' (ids no longer follow node order).
    await client.put(
        f"/gosd/api/v2/nodes/{ids[1]}",
        headers=auth,
        json={
            "name": "depot",
            "type_name": "depot",
            "points": [{"name": "x", "point_type_name": "depot_status", "params": PARAMS[2]}],
        },
    )
    singles = [(await client.get(f"/gosd/api/v2/nodes/{i}", headers=auth)).content for i in ids]
    v2 = await client.get("/gosd/api/v2/nodes/", headers=auth)
    v1 = await client.get("/gosd/api/v1/nodes/", headers=auth)
    assert v2.status_code == v1.status_code == 200
    assert v2.content == _joined(singles)
    # v1 is the seed's shape; v2 adds only the viewer url of live video points.
    without_urls = [
        {**n, "points": [{k: v for k, v in p.items() if k != "url"} for p in n["points"]]}
        for n in v2.json()
    ]
    assert v1.json() == without_urls
    drone = v2.json()[0]
    urls = [p.get("url") for p in drone["points"]]
    live = f"/gosd/api/v2/nodes/{ids[0]}/points/{drone['points'][0]['id']}/live.flv"
    assert urls == [live, None, None]
    assert [p["point_type_id"] for p in drone["points"]] == [2, 1, 5]
    assert [p["params"] for p in drone["points"]] == PARAMS
    assert [n["points"] for n in v2.json()][2][0]["node_id"] == ids[2]


async def test_the_plan_list_answers_what_each_plan_read_answers(
    client: AsyncTestClient, auth: Headers, other_auth: Headers
) -> None:
    node = await _node(client, auth, "drone", 1)
    blobs = await _blobs(client, auth, 3)
    bodies: list[dict[str, Any]] = [
        {"name": "no files", "node_id": node},
        {
            "name": "three files",
            "node_id": node,
            "description": "über",
            "files": {"z": blobs[0], "a": blobs[1], "m": blobs[2]},
            "extra": {"on_finish": "land", "note": "航线 \U0001f681", "empty": ""},
        },
        {"name": "one file", "node_id": node, "files": {"notes": blobs[0]}},
    ]
    ids = []
    for body in bodies:
        r = await client.post("/gosd/api/v2/plans/", headers=auth, json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    other_node = await _node(client, other_auth, "theirs", 0)
    r = await client.post(
        "/gosd/api/v2/plans/", headers=other_auth, json={"name": "theirs", "node_id": other_node}
    )
    assert r.status_code == 201
    # Replacing a plan's files gives them new rows after the other plans' files.
    r = await client.put(
        f"/gosd/api/v2/plans/{ids[0]}",
        headers=auth,
        json={"name": "now with files", "node_id": node, "files": {"b": blobs[2], "a": blobs[1]}},
    )
    assert r.status_code == 200, r.text

    # Running a plan counts its jobs in the plan's row; the list must still agree.
    assert (await client.get("/gosd/api/v2/plans/", headers=auth)).status_code == 200
    r = await client.post(f"/gosd/api/v2/plans/{ids[1]}/jobs/", headers=auth)
    assert r.status_code in {200, 201}, r.text

    singles = [(await client.get(f"/gosd/api/v2/plans/{i}", headers=auth)).content for i in ids]
    listed = await client.get("/gosd/api/v2/plans/", headers=auth)
    assert listed.status_code == 200
    assert listed.content == _joined(singles)
    plans = listed.json()
    assert [list(p["files"]) for p in plans] == [["b", "a"], ["z", "a", "m"], ["notes"]]
    assert plans[1]["extra"] == bodies[1]["extra"]
    assert all(p["created_at"].endswith("Z") for p in plans)


async def test_empty_lists_are_empty_arrays(client: AsyncTestClient, auth: Headers) -> None:
    for path in ("/gosd/api/v1/nodes/", "/gosd/api/v2/nodes/", "/gosd/api/v2/plans/"):
        r = await client.get(path, headers=auth)
        assert r.status_code == 200
        assert r.content == b"[]"


async def test_a_change_through_this_server_shows_in_the_next_list(
    client: AsyncTestClient, auth: Headers
) -> None:
    """The lists are remembered between requests; a write here is seen at once."""

    async def names(path: str) -> list[str]:
        r = await client.get(path, headers=auth)
        assert r.status_code == 200
        return [item["name"] for item in r.json()]

    assert await names("/gosd/api/v1/nodes/") == []
    node = await _node(client, auth, "first", 1)
    assert await names("/gosd/api/v1/nodes/") == ["first"]
    r = await client.put(
        f"/gosd/api/v2/nodes/{node}", headers=auth, json={"name": "renamed", "type_name": "air"}
    )
    assert r.status_code == 200
    assert await names("/gosd/api/v2/nodes/") == ["renamed"]
    assert (await client.get("/gosd/api/v1/nodes/", headers=auth)).json()[0]["points"] == []

    assert await names("/gosd/api/v2/plans/") == []
    r = await client.post("/gosd/api/v2/plans/", headers=auth, json={"name": "p", "node_id": node})
    plan = r.json()["id"]
    assert await names("/gosd/api/v2/plans/") == ["p"]
    r = await client.put(
        f"/gosd/api/v2/plans/{plan}", headers=auth, json={"name": "q", "node_id": node}
    )
    assert r.status_code == 200
    assert await names("/gosd/api/v2/plans/") == ["q"]
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        files={"name": (None, "from a form"), "node_id": (None, str(node))},
    )
    assert r.status_code == 201, r.text
    assert await names("/gosd/api/v2/plans/") == ["q", "from a form"]
    for plan_id in (plan, r.json()["id"]):
        assert (
            await client.delete(f"/gosd/api/v2/plans/{plan_id}", headers=auth)
        ).status_code == 200
    assert await names("/gosd/api/v2/plans/") == []
    assert (await client.delete(f"/gosd/api/v2/nodes/{node}", headers=auth)).status_code == 200
    assert await names("/gosd/api/v1/nodes/") == []


async def test_a_refused_change_leaves_the_lists_as_they_were(
    client: AsyncTestClient, auth: Headers
) -> None:
    node = await _node(client, auth, "kept", 2)
    r = await client.post("/gosd/api/v2/plans/", headers=auth, json={"name": "p", "node_id": node})
    assert r.status_code == 201
    before = [
        (await client.get(p, headers=auth)).content
        for p in ("/gosd/api/v2/nodes/", "/gosd/api/v2/plans/")
    ]
    bad = [
        ("PUT", f"/gosd/api/v2/nodes/{node}", {"name": "", "type_name": "air"}),
        ("PUT", f"/gosd/api/v2/nodes/{node}", {"name": "x", "type_name": "submarine"}),
        ("DELETE", f"/gosd/api/v2/nodes/{node}", None),  # a plan still names it
        ("POST", "/gosd/api/v2/plans/", {"name": "p2", "node_id": 999_999}),
        (
            "PUT",
            f"/gosd/api/v2/plans/{r.json()['id']}",
            {"name": "p", "node_id": node, "files": {"m": "1x"}},
        ),
    ]
    for method, path, body in bad:
        answer = await client.request(method, path, headers=auth, json=body)
        assert 400 <= answer.status_code < 500, (method, path, answer.text)
        assert set(answer.json()) >= {"error_message", "code"}
    after = [
        (await client.get(p, headers=auth)).content
        for p in ("/gosd/api/v2/nodes/", "/gosd/api/v2/plans/")
    ]
    assert after == before
