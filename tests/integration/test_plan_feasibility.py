"""A mission PX4 would refuse is refused when a plan or job is written (DESIGN §6).

Through the real app: plan create (JSON and multipart), replace, a plan's mission blob
replaced, job create (its own file, or an ``extra`` that changes what the check decides),
and the limits taken from the control plane's settings. Every refusal is a 422
``invalid_input`` whose ``location`` names the key and the item, and leaves nothing stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from control_plane.settings import Settings
from tests.integration.test_plan_missions import make_node, upload

Headers = dict[str, str]
OWN = Path(__file__).resolve().parents[1] / "missions"
ARDUPILOT = (OWN / "px4_ardupilot_commands.waypoints").read_bytes()
FENCE_CROSSING = (OWN / "px4_fence_crossing.plan").read_bytes()
ENDLESS = (OWN / "px4_endless_loop.waypoints").read_bytes()
SQUARE = (OWN / "square.plan").read_bytes()
LANDS = (OWN / "takeoff_first.waypoints").read_bytes()
PLANS = "/gosd/api/v2/plans/"


def refused(r: Any, location: str, words: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert (body["code"], body["location"]) == ("invalid_input", location)
    assert words in body["error_message"]


async def plan_count(client: AsyncTestClient, auth: Headers) -> int:
    return len((await client.get(PLANS, headers=auth)).json())


async def make_plan(
    client: AsyncTestClient, auth: Headers, node_id: int, files: dict[str, str], **extra: str
) -> int:
    body = {"name": "p", "node_id": node_id, "files": files, "extra": extra}
    r = await client.post(PLANS, headers=auth, json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def jobs_of(client: AsyncTestClient, auth: Headers, plan_id: int) -> list[Any]:
    r = await client.get(f"{PLANS}{plan_id}/jobs", headers=auth)
    assert r.status_code == 200, r.text
    return list(r.json())


async def test_a_plan_px4_would_refuse_is_a_422_naming_the_item(
    client: AsyncTestClient, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    blob = await upload(client, auth, "field.waypoints", ARDUPILOT)
    r = await client.post(
        PLANS, headers=auth, json={"name": "p", "node_id": node_id, "files": {"waypoint": blob}}
    )
    refused(
        r,
        "files.waypoint: line 5 (item 2)",
        "command 18 (NAV_LOITER_TURNS) is not flown by PX4 (PX4 has no loiter",
    )
    assert await plan_count(client, auth) == 0
    # Replacing a good plan's file with it is refused the same way; the plan is unchanged.
    good = await upload(client, auth, "square.plan", SQUARE)
    plan_id = await make_plan(client, auth, node_id, {"mission": good})
    r = await client.put(
        f"{PLANS}{plan_id}",
        headers=auth,
        json={"name": "q", "node_id": node_id, "files": {"mission": blob}},
    )
    refused(r, "files.mission: line 5 (item 2)", "NAV_LOITER_TURNS")
    kept = (await client.get(f"{PLANS}{plan_id}", headers=auth)).json()
    assert (kept["name"], kept["files"]) == ("p", {"mission": good})


async def test_a_multipart_plan_crossing_its_own_fence_stores_nothing(
    client: AsyncTestClient, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    r = await client.post(
        PLANS,
        headers=auth,
        files={
            "name": (None, "p"),
            "node_id": (None, str(node_id)),
            "mission": ("field.plan", FENCE_CROSSING),
        },
    )
    refused(
        r,
        "files.mission: mission.items[2] (item 2)",
        "the straight leg from item 1 to item 2 enters exclusion polygon 2 of the plan's geofence",
    )
    assert await plan_count(client, auth) == 0
    assert await upload(client, auth, "next.txt", b"x") == "1", "the refused form stored no blob"


async def test_an_endless_loop_flies_only_where_the_plan_or_job_opts_in(
    client: AsyncTestClient, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    endless = await upload(client, auth, "loop.waypoints", ENDLESS)
    body = {"name": "p", "node_id": node_id, "files": {"mission": endless}}
    r = await client.post(PLANS, headers=auth, json=body)
    refused(r, "files.mission: line 7 (item 4)", "endless_loops=allow")
    plan_id = await make_plan(client, auth, node_id, {"mission": endless}, endless_loops="allow")
    # A job of it that takes the opt-in back is refused; one that keeps it is queued.
    r = await client.post(
        f"{PLANS}{plan_id}/jobs", headers=auth, json={"extra": {"endless_loops": "refuse"}}
    )
    refused(r, "files.mission: line 7 (item 4)", "DO_JUMP repeat -1 loops for ever")
    assert await jobs_of(client, auth, plan_id) == []
    r = await client.post(f"{PLANS}{plan_id}/jobs", headers=auth, json={})
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{PLANS}{plan_id}/jobs", headers=auth, json={"extra": {"endless_loops": "maybe"}}
    )
    refused(r, "extra.endless_loops", "'maybe' is not one of allow, refuse")


async def test_a_jobs_own_mission_file_is_checked(client: AsyncTestClient, auth: Headers) -> None:
    node_id = await make_node(client, auth)
    square = await upload(client, auth, "square.plan", SQUARE)
    plan_id = await make_plan(client, auth, node_id, {"mission": square})
    endless = await upload(client, auth, "loop.waypoints", ENDLESS)
    r = await client.post(
        f"{PLANS}{plan_id}/jobs", headers=auth, json={"files": {"mission": endless}}
    )
    refused(r, "files.mission: line 7 (item 4)", "endless_loops=allow")
    r = await client.post(
        f"{PLANS}{plan_id}/jobs",
        headers=auth,
        files={"mission": ("loop.waypoints", ENDLESS), "speed_m_s": (None, "5")},
    )
    refused(r, "files.mission: line 7 (item 4)", "endless_loops=allow")
    assert await jobs_of(client, auth, plan_id) == []
    assert await upload(client, auth, "next.txt", b"x") == str(int(endless) + 1), (
        "the refused form stored no blob"
    )
    r = await client.post(
        f"{PLANS}{plan_id}/jobs",
        headers=auth,
        json={"files": {"mission": endless}, "extra": {"endless_loops": "allow"}},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{PLANS}{plan_id}/jobs",
        headers=auth,
        files={"mission": ("loop.waypoints", ENDLESS), "endless_loops": (None, "allow")},
    )
    assert r.status_code == 201, r.text
    assert len(await jobs_of(client, auth, plan_id)) == 2


async def test_a_plans_mission_blob_must_keep_flying_as_that_plan_flies_it(
    client: AsyncTestClient, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    strict = await upload(client, auth, "a.plan", SQUARE)
    lenient = await upload(client, auth, "b.plan", SQUARE)
    await make_plan(client, auth, node_id, {"mission": strict})
    await make_plan(client, auth, node_id, {"mission": lenient}, endless_loops="allow")
    r = await client.put(
        f"/gosd/api/v2/blobs/{strict}", headers=auth, files={"c": ("loop.waypoints", ENDLESS)}
    )
    refused(r, "files.mission: line 7 (item 4)", "endless_loops=allow")
    assert (await client.get(f"/gosd/api/v2/blobs/{strict}", headers=auth)).content == SQUARE
    r = await client.put(
        f"/gosd/api/v2/blobs/{lenient}", headers=auth, files={"c": ("loop.waypoints", ENDLESS)}
    )
    assert r.status_code == 200, r.text


class TestLimitsFromSettings:
    @pytest.fixture
    def settings(self, database_url: str, tmp_path: Path) -> Settings:
        """A control plane whose missions need a landing (PX4's MIS_TKO_LAND_REQ 2)."""
        return Settings.from_env(
            {"GOSD_MISSION_TAKEOFF_LAND_REQUIRED": "2"},
            data_dir=tmp_path / "data",
            database_url=database_url,
            mqtt_listen="127.0.0.1:0",
        )

    async def test_a_plan_is_checked_with_them(
        self, client: AsyncTestClient, auth: Headers
    ) -> None:
        node_id = await make_node(client, auth)
        square = await upload(client, auth, "square.plan", SQUARE)
        body = {"name": "p", "node_id": node_id, "files": {"mission": square}}
        r = await client.post(PLANS, headers=auth, json=body)
        refused(r, "files.mission: mission.items[6] (item 6)", "PX4 requires a landing item")
        lands = await upload(client, auth, "lands.waypoints", LANDS)
        await make_plan(client, auth, node_id, {"mission": lands})
