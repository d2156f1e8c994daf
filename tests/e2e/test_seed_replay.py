"""The seed's curl examples, replayed as real HTTP requests against ``gosd demo``.

``gosd demo`` builds the seed's example world (user demo, client 000000, a drone with
a ``livestream_flv`` point and a depot), so each answer can be compared with the seed.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from control_plane.demo_mission import HOME, sample_plan
from tests.e2e.processes import gosd_env, running
from tests.support import until_sync

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> httpx.Client:  # type: ignore[misc]
    env = gosd_env(tmp_path_factory.mktemp("unused"))
    with (
        running("demo", "--port", "0", env=env) as (base_url, _proc),
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def bearer(demo: httpx.Client) -> dict[str, str]:
    # curl .../oauth/token -F grant_type="password" -F username=... (multipart, as the seed)
    r = demo.post(
        "/oauth/token",
        files={
            "grant_type": (None, "password"),
            "username": (None, "demo"),
            "password": (None, "demodemo"),
            "client_id": (None, "000000"),
            "client_secret": (None, "999999"),
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["access_token"]) == 64 and int(body["access_token"], 16) >= 0
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 7200
    assert isinstance(body["created_at"], int)
    return {"Authorization": "Bearer " + body["access_token"]}


def test_ok(demo: httpx.Client) -> None:
    r = demo.get("/api/v2/ok")
    assert r.status_code == 200
    assert set(r.json()) == {"ok"}


def test_nodes_in_the_seed_shape(demo: httpx.Client, bearer: dict[str, str]) -> None:
    r = demo.get("/api/v1/nodes/", headers=bearer)
    assert r.status_code == 200
    drone, depot, *more_drones = r.json()
    assert {k: drone[k] for k in ("id", "name", "description", "type_name")} == {
        "id": 1,
        "name": "Drone",
        "description": "A Test Drone",
        "type_name": "air",
    }
    (point,) = drone["points"]
    assert {k: point[k] for k in ("id", "name", "node_id", "point_type_id", "point_type_name")} == {
        "id": 1,
        "name": "aa",
        "node_id": 1,
        "point_type_id": 2,
        "point_type_name": "livestream_flv",
    }
    assert depot["name"] == "Depot" and depot["type_name"] == "depot" and depot["points"] == []
    assert [(d["name"], d["type_name"]) for d in more_drones] == [
        ("Drone 2", "air"),
        ("Drone 3", "air"),
    ]


def test_blobs_plans_and_jobs_as_the_seed(
    demo: httpx.Client, bearer: dict[str, str], tmp_path: Path
) -> None:
    # POST /api/v2/blobs/ -F c1=@a -F c2=@b  ->  {"c1": "8", "c2": "9"} (ids as strings)
    r = demo.post(
        "/api/v2/blobs/",
        headers=bearer,
        files={"c1": ("square.plan", sample_plan(HOME)), "c2": ("go.sum", b"sum\n")},
    )
    assert r.status_code == 201, r.text
    ids = r.json()
    assert set(ids) == {"c1", "c2"} and all(v.isdigit() for v in ids.values())

    # PUT /api/v2/blobs/:id -F c=@go.mod  ->  {"id": 20, "filename": "go.mod"}
    r = demo.put(
        f"/api/v2/blobs/{ids['c2']}", headers=bearer, files={"c": ("go.mod", b"module y\n")}
    )
    assert r.status_code == 200
    assert r.json() == {"id": int(ids["c2"]), "filename": "go.mod"}
    assert demo.get(f"/api/v2/blobs/{ids['c2']}", headers=bearer).content == b"module y\n"

    # POST /api/v2/plans/ (JSON) answers the plan in the same shape
    plan_body = {
        "name": "233",
        "description": "test",
        "node_id": 1,
        "files": {"mission": ids["c1"]},
        "extra": {"key1": "value1", "key2": "value2", "key3": "value3"},
    }
    r = demo.post("/api/v2/plans/", headers=bearer, json=plan_body)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert {k: plan[k] for k in plan_body} == plan_body

    # GET /api/v2/plans/ lists it after the demo's sample plan; PUT replaces it
    listed = demo.get("/api/v2/plans/", headers=bearer).json()
    assert [p["id"] for p in listed] == [1, plan["id"]]
    r = demo.put(f"/api/v2/plans/{plan['id']}", headers=bearer, json={**plan_body, "name": "234"})
    assert r.status_code == 200 and r.json()["name"] == "234"

    # POST /api/v2/plans/:id/jobs/ runs it
    r = demo.post(f"/api/v2/plans/{plan['id']}/jobs/", headers=bearer)
    assert r.status_code == 201
    job = r.json()
    assert {"id", "job_id", "plan_id", "files", "extra", "created_at", "updated_at"} <= set(job)
    assert job["plan_id"] == plan["id"] and job["job_id"] == 1 and job["status"] == "queued"

    # GET /api/v2/plans/:id/jobs/ answers 200 with the list
    r = demo.get(f"/api/v2/plans/{plan['id']}/jobs/", headers=bearer)
    assert r.status_code == 200 and [j["id"] for j in r.json()] == [job["id"]]

    # The demo's drone agent takes the job and flies the mission on its simulated vehicle
    until_sync(
        lambda: (
            demo.get(f"/api/v2/plans/{plan['id']}/jobs/1", headers=bearer).json()["status"]
            == "running"
        ),
        "the demo's agent runs the job",
        within=20,
    )

    # POST /api/v2/plans/:id/jobs/cancel (the seed's own form) cancels the active job,
    # on the node: the answer comes once its agent reports the job cancelled
    r = demo.post(f"/api/v2/plans/{plan['id']}/jobs/cancel", headers=bearer)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    events = demo.get(f"/api/v2/plans/{plan['id']}/jobs/1/events", headers=bearer).json()
    assert [e["state"] for e in events][-1] == "cancelled" and events[-1]["seq"] is not None
    assert demo.get(f"/api/v2/plans/{plan['id']}/running", headers=bearer).json() == {}

    # DELETE /api/v2/plans/:id answers the deleted plan; the blob can then go too
    r = demo.delete(f"/api/v2/plans/{plan['id']}", headers=bearer)
    assert r.status_code == 200 and r.json()["id"] == plan["id"]
    assert demo.get(f"/api/v2/plans/{plan['id']}", headers=bearer).status_code == 404
    r = demo.delete(f"/api/v2/blobs/{ids['c1']}", headers=bearer)
    assert r.status_code == 200
    assert demo.get(f"/api/v2/blobs/{ids['c1']}", headers=bearer).status_code == 404


def test_the_walkthroughs_sample_plan_flies(demo: httpx.Client, bearer: dict[str, str]) -> None:
    # Node 1 may still be returning from the cancel above: a job waits for it to be down
    def standby() -> bool:
        r = demo.get("/api/v2/nodes/1/msg/drone_status", headers=bearer)
        return r.status_code == 200 and r.json()["data"]["status"] == "standby"

    until_sync(standby, "drone 1 is on the ground", within=60)
    plan = demo.get("/api/v2/plans/1", headers=bearer).json()
    assert plan["name"] == "Square" and set(plan["files"]) == {"mission"}
    r = demo.post("/api/v2/plans/1/jobs/", headers=bearer)
    assert r.status_code == 201, r.text
    job_id = r.json()["job_id"]

    def waypoint_reached() -> bool:
        events = demo.get(f"/api/v2/plans/1/jobs/{job_id}/events", headers=bearer).json()
        assert events[-1]["state"] not in ("failed", "cancelled"), events[-1]
        return any((e["progress"] or {}).get("item", -1) >= 1 for e in events)

    until_sync(waypoint_reached, "the sample mission's first waypoint is reached", within=60)
    position = demo.get("/api/v2/nodes/1/msg/position", headers=bearer).json()["data"]
    assert position["height"] > 5, position
