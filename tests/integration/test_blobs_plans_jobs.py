"""Blobs, plans and jobs as a user drives them, beyond the seed's happy path."""

from __future__ import annotations

import asyncio
import hashlib

from litestar.testing import AsyncTestClient

from control_plane.demo_mission import sample_plan

Headers = dict[str, str]


async def make_node(client: AsyncTestClient, auth: Headers) -> int:
    r = await client.post(
        "/gosd/api/v2/nodes/",
        headers=auth,
        json={
            "name": "d1",
            "type_name": "air",
            "description": "",
            "points": [{"name": "cam", "point_type_name": "livestream_flv", "params": {"fps": 15}}],
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def make_plan(client: AsyncTestClient, auth: Headers, **extra: object) -> dict:  # type: ignore[type-arg]
    node_id = await make_node(client, auth)
    r = await client.post(
        "/gosd/api/v2/plans/", headers=auth, json={"name": "p", "node_id": node_id, **extra}
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_download_serves_the_bytes_with_etag_range_and_utf8_name(
    client: AsyncTestClient, auth: Headers
) -> None:
    data = bytes(range(256)) * 40
    r = await client.post(
        "/gosd/api/v2/blobs/",
        headers=auth,
        files={"f": ("航线 ../x.plan", data, "application/json")},
    )
    blob_id = r.json()["f"]
    got = await client.get(f"/gosd/api/v2/blobs/{blob_id}", headers=auth)
    assert got.content == data
    assert got.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert got.headers["content-type"].startswith("application/json")
    assert "filename*=UTF-8''x.plan" in got.headers["content-disposition"]
    part = await client.get(
        f"/gosd/api/v2/blobs/{blob_id}", headers={**auth, "Range": "bytes=10-19"}
    )
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    cached = await client.get(
        f"/gosd/api/v2/blobs/{blob_id}", headers={**auth, "If-None-Match": got.headers["etag"]}
    )
    assert cached.status_code == 304
    outside = await client.get(
        f"/gosd/api/v2/blobs/{blob_id}", headers={**auth, "Range": f"bytes={len(data)}-"}
    )
    assert outside.status_code == 416
    assert outside.json()["code"] == "range_not_satisfiable"


async def test_replace_and_delete_blob(client: AsyncTestClient, auth: Headers) -> None:
    ids = (
        await client.post(
            "/gosd/api/v2/blobs/",
            headers=auth,
            files={"a": ("a.txt", b"same"), "b": ("b.txt", b"same")},
        )
    ).json()
    # Two blobs share bytes: deleting one keeps the other readable.
    assert (await client.delete(f"/gosd/api/v2/blobs/{ids['a']}", headers=auth)).status_code == 200
    assert (await client.get(f"/gosd/api/v2/blobs/{ids['b']}", headers=auth)).content == b"same"
    r = await client.put(
        f"/gosd/api/v2/blobs/{ids['b']}", headers=auth, files={"x": ("new.txt", b"new bytes")}
    )
    assert r.json() == {"id": int(ids["b"]), "filename": "new.txt"}
    meta = (await client.get(f"/gosd/api/v2/blobs/{ids['b']}/meta", headers=auth)).json()
    assert meta["size"] == 9
    assert meta["sha256"] == hashlib.sha256(b"new bytes").hexdigest()
    assert (await client.get(f"/gosd/api/v2/blobs/{ids['a']}", headers=auth)).status_code == 404


async def test_a_blob_in_use_cannot_be_deleted(client: AsyncTestClient, auth: Headers) -> None:
    blob = (
        await client.post("/gosd/api/v2/blobs/", headers=auth, files={"f": ("m", b"m")})
    ).json()["f"]
    plan = await make_plan(client, auth, files={"notes": blob})
    r = await client.delete(f"/gosd/api/v2/blobs/{blob}", headers=auth)
    assert r.status_code == 409
    assert r.json()["plans"] == [plan["id"]]
    assert (await client.get(f"/gosd/api/v2/blobs/{blob}", headers=auth)).content == b"m"


async def test_plan_validation_says_where(client: AsyncTestClient, auth: Headers) -> None:
    node_id = await make_node(client, auth)
    cases = [
        ({"node_id": 999}, "node_id"),
        ({"files": {"mission": "12345"}}, "files.mission"),
        ({"files": {"mission": "abc"}}, "files.mission"),
        ({"extra": {"on_finish": "fly-away"}}, "extra.on_finish"),
        ({"extra": {"takeoff_alt_m": "-5"}}, "extra.takeoff_alt_m"),
        ({"extra": {"min_battery_pct": "150"}}, "extra.min_battery_pct"),
    ]
    for change, location in cases:
        body = {"name": "p", "node_id": node_id, **change}
        r = await client.post("/gosd/api/v2/plans/", headers=auth, json=body)
        assert r.status_code == 422, (change, r.text)
        assert r.json()["location"] == location
    ok = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        json={"name": "p", "node_id": node_id, "extra": {"on_finish": "rtl", "anything": "goes"}},
    )
    assert ok.status_code == 201
    assert (await client.get("/gosd/api/v2/plans/", headers=auth)).json()[0]["extra"] == {
        "on_finish": "rtl",
        "anything": "goes",
    }


FIELD_PLAN = sample_plan()


async def test_multipart_plan_as_the_original(client: AsyncTestClient, auth: Headers) -> None:
    node_id = await make_node(client, auth)
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        files={
            "name": (None, "survey"),
            "description": (None, "north field"),
            "node_id": (None, str(node_id)),
            "speed_m_s": (None, "8"),
            "mission": ("field.plan", FIELD_PLAN),
        },
    )
    assert r.status_code == 201, r.text
    plan = r.json()
    assert (plan["name"], plan["description"], plan["node_id"]) == (
        "survey",
        "north field",
        node_id,
    )
    assert plan["extra"] == {"speed_m_s": "8"}
    blob = plan["files"]["mission"]
    assert (await client.get(f"/gosd/api/v2/blobs/{blob}", headers=auth)).content == FIELD_PLAN
    # A refused form stores no blob.
    bad = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        files={"name": (None, "x"), "node_id": (None, "999"), "mission": ("m.plan", b"{}")},
    )
    assert bad.status_code == 422
    assert (
        await client.get(f"/gosd/api/v2/blobs/{int(blob) + 1}", headers=auth)
    ).status_code == 404


async def test_jobs_are_numbered_per_plan_without_races(
    client: AsyncTestClient, auth: Headers
) -> None:
    plan = await make_plan(client, auth)
    url = f"/gosd/api/v2/plans/{plan['id']}/jobs/"
    assert (await client.get(url, headers=auth)).json() == []
    created = await asyncio.gather(*(client.post(url, headers=auth) for _ in range(10)))
    assert all(r.status_code == 201 for r in created)
    assert sorted(r.json()["job_id"] for r in created) == list(range(1, 11))
    listed = await client.get(url, headers=auth)
    assert listed.status_code == 200
    assert [j["job_id"] for j in listed.json()] == list(range(1, 11))
    assert all(j["status"] == "queued" and j["node_id"] == plan["node_id"] for j in listed.json())


async def test_cancel_stop_and_running(client: AsyncTestClient, auth: Headers) -> None:
    plan = await make_plan(client, auth)
    base = f"/gosd/api/v2/plans/{plan['id']}"
    assert (await client.get(f"{base}/running", headers=auth)).json() == {}
    first = (
        await client.post(f"{base}/jobs/", headers=auth, json={"extra": {"note": "first"}})
    ).json()
    assert first["extra"] == {"note": "first"}
    await client.post(f"{base}/jobs/", headers=auth)
    assert (await client.get(f"{base}/running", headers=auth)).json()["job_id"] == 1
    assert (await client.delete(base, headers=auth)).status_code == 409  # a job is active

    r = await client.post(f"{base}/jobs/1/cancel", headers=auth)
    assert r.json()["status"] == "cancelled"
    assert r.json()["finished_at"] is not None
    again = await client.post(f"{base}/jobs/1/cancel", headers=auth)
    assert again.status_code == 409
    assert (await client.get(f"{base}/running", headers=auth)).json()["job_id"] == 2
    stopped = await client.delete(f"{base}/jobs/running", headers=auth)
    assert stopped.json()["job_id"] == 2
    assert stopped.json()["status"] == "cancelled"
    assert (await client.post(f"{base}/jobs/cancel", headers=auth)).status_code == 404
    assert (await client.delete(base, headers=auth)).status_code == 200
