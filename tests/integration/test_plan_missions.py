"""A plan's mission file is checked when the plan is written (DESIGN §6).

The plan service is driven on a real database and blob store; the HTTP routes (JSON,
multipart, PUT, and replacing a plan's mission blob) through the real app.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import pytest
from litestar.testing import AsyncTestClient

from control_plane.db.lifecycle import open_database
from control_plane.db.models import Group, Plan, PlanFile
from control_plane.errors import InvalidInput
from control_plane.services import nodes, plans
from control_plane.services.blob_store import BlobStore
from control_plane.services.blobs import BlobService
from control_plane.services.nodes import NodeWrite
from control_plane.services.plans import PlanOut, PlanWrite
from control_plane.services.principal import Principal
from shared.enums import NodeType

Headers = dict[str, str]
OWN = Path(__file__).resolve().parents[1] / "missions"
GOOD_PLAN = (OWN / "square.plan").read_bytes()
GOOD_WPL = (OWN / "home_first.waypoints").read_bytes()
_doc = json.loads(GOOD_PLAN)
_doc["mission"]["items"][1]["params"][4] = 146.9
BAD_PLAN = json.dumps(_doc).encode()
BAD_WHERE = "files.mission: mission.items[1].params[4]"
BAD_WPL = GOOD_WPL.replace(b"\t0\t3\t16\t5\t", b"\t0\t1\t16\t5\t")  # row 2: a local frame
BAD_WPL_WHERE = "files.waypoint: line 4, column 3 (frame)"


async def make_node(client: AsyncTestClient, auth: Headers) -> int:
    r = await client.post(
        "/gosd/api/v2/nodes/", headers=auth, json={"name": "d", "type_name": "air"}
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def upload(client: AsyncTestClient, auth: Headers, name: str, data: bytes) -> str:
    r = await client.post("/gosd/api/v2/blobs/", headers=auth, files={"f": (name, data)})
    assert r.status_code == 201, r.text
    return str(r.json()["f"])


class World(NamedTuple):
    people: Principal
    node_id: int
    blobs: BlobService


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    """The plan service on a real database and a real blob store, without HTTP."""
    store = BlobStore(tmp_path / "blobs")
    store.prepare()
    async with open_database(database_url):
        group = await Group.get(name="demo")
        people = Principal(kind="user", id=1, group_id=group.id, name="demo", is_admin=True)
        node = await nodes.create_node(people, NodeWrite(name="d1", type_name=NodeType.AIR))
        yield World(people, node.id, BlobService(store))


async def store_blob(world: World, name: str, data: bytes) -> str:
    staged = world.blobs.store.stage(name, "application/octet-stream")
    await staged.write(data)
    await staged.finish()
    return (await world.blobs.create(world.people, [("f", staged)]))["f"]


async def create(world: World, files: dict[str, str], name: str = "p") -> PlanOut:
    body = PlanWrite(name=name, node_id=world.node_id, files=files)
    return await plans.create_plan(world.people, body, store=world.blobs.store)


async def test_the_service_refuses_a_bad_mission_and_stores_nothing(world: World) -> None:
    bad = await store_blob(world, "bad.plan", BAD_PLAN)
    bad_wpl = await store_blob(world, "bad.waypoints", BAD_WPL)
    cases = [
        ({"mission": bad}, BAD_WHERE, "latitude 146.9 is not in [-90, 90]"),
        ({"waypoint": bad_wpl}, BAD_WPL_WHERE, "frame 1 is not supported"),
    ]
    for files, location, words in cases:
        with pytest.raises(InvalidInput) as info:
            await create(world, files)
        assert info.value.details["location"] == location
        assert words in info.value.message
    assert await Plan.all().count() == 0
    assert await PlanFile.all().count() == 0

    good = await store_blob(world, "good.plan", GOOD_PLAN)
    made = await create(world, {"mission": good})
    with pytest.raises(InvalidInput) as info:
        await plans.replace_plan(
            world.people,
            made.id,
            PlanWrite(name="changed", node_id=world.node_id, files={"mission": bad}),
            store=world.blobs.store,
        )
    assert info.value.details["location"] == BAD_WHERE
    kept = await plans.get_plan(world.people, made.id)
    assert (kept.name, kept.files) == ("p", {"mission": good})


async def test_good_files_and_other_keys_pass(world: World) -> None:
    plan_blob = await store_blob(world, "square.plan", GOOD_PLAN)
    wpl_blob = await store_blob(world, "home_first.waypoints", GOOD_WPL)
    junk = await store_blob(world, "notes.txt", b"not a mission")
    made = await create(world, {"mission": plan_blob, "waypoint": wpl_blob, "notes": junk})
    assert made.files == {"mission": plan_blob, "waypoint": wpl_blob, "notes": junk}


async def test_a_blob_over_the_cap_is_refused(world: World) -> None:
    huge = await store_blob(world, "huge.plan", b"{" + b" " * (5 * 1024 * 1024))
    with pytest.raises(InvalidInput) as info:
        await create(world, {"mission": huge})
    assert info.value.details["location"] == "files.mission: file"
    assert "MiB" in info.value.message


async def test_good_mission_files_make_plans(client: AsyncTestClient, auth: Headers) -> None:
    node_id = await make_node(client, auth)
    plan_blob = await upload(client, auth, "square.plan", GOOD_PLAN)
    wpl_blob = await upload(client, auth, "home_first.waypoints", GOOD_WPL)
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        json={"name": "square", "node_id": node_id, "files": {"mission": plan_blob}},
    )
    assert r.status_code == 201, r.text
    plan_id = r.json()["id"]
    r = await client.put(
        f"/gosd/api/v2/plans/{plan_id}",
        headers=auth,
        json={"name": "square", "node_id": node_id, "files": {"waypoint": wpl_blob}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["files"] == {"waypoint": wpl_blob}
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        files={
            "name": (None, "form"),
            "node_id": (None, str(node_id)),
            "mission": ("square.plan", GOOD_PLAN),
        },
    )
    assert r.status_code == 201, r.text


async def _plan_count(client: AsyncTestClient, auth: Headers) -> int:
    return len((await client.get("/gosd/api/v2/plans/", headers=auth)).json())


async def test_json_create_with_a_bad_mission_is_a_422(
    client: AsyncTestClient, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    bad = await upload(client, auth, "bad.plan", BAD_PLAN)
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        json={"name": "p", "node_id": node_id, "files": {"mission": bad}},
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_input"
    assert r.json()["location"] == BAD_WHERE
    assert "latitude" in r.json()["error_message"]
    assert await _plan_count(client, auth) == 0


async def test_multipart_create_with_a_bad_mission_is_a_422(
    client: AsyncTestClient, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        files={
            "name": (None, "p"),
            "node_id": (None, str(node_id)),
            "waypoint": ("bad.waypoints", BAD_WPL),
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["location"] == BAD_WPL_WHERE
    assert await _plan_count(client, auth) == 0
    assert await upload(client, auth, "next.txt", b"x") == "1", "the refused form stored no blob"


async def test_replace_with_a_bad_mission_is_a_422(client: AsyncTestClient, auth: Headers) -> None:
    node_id = await make_node(client, auth)
    good = await upload(client, auth, "good.plan", GOOD_PLAN)
    bad = await upload(client, auth, "bad.plan", BAD_PLAN)
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        json={"name": "p", "node_id": node_id, "files": {"mission": good}},
    )
    plan_id = r.json()["id"]
    r = await client.put(
        f"/gosd/api/v2/plans/{plan_id}",
        headers=auth,
        json={"name": "q", "node_id": node_id, "files": {"mission": bad}},
    )
    assert r.status_code == 422, r.text
    assert r.json()["location"] == BAD_WHERE
    kept = (await client.get(f"/gosd/api/v2/plans/{plan_id}", headers=auth)).json()
    assert (kept["name"], kept["files"]) == ("p", {"mission": good})


async def test_a_plans_mission_blob_cannot_be_replaced_by_a_bad_file(
    client: AsyncTestClient, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    good = await upload(client, auth, "good.plan", GOOD_PLAN)
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        json={"name": "p", "node_id": node_id, "files": {"mission": good}},
    )
    assert r.status_code == 201, r.text
    r = await client.put(
        f"/gosd/api/v2/blobs/{good}", headers=auth, files={"c": ("bad.plan", BAD_PLAN)}
    )
    assert r.status_code == 422, r.text
    assert r.json()["location"] == BAD_WHERE
    kept = await client.get(f"/gosd/api/v2/blobs/{good}", headers=auth)
    assert kept.content == GOOD_PLAN, "the plan's mission file is unchanged"
    r = await client.put(
        f"/gosd/api/v2/blobs/{good}", headers=auth, files={"c": ("good2.plan", GOOD_PLAN + b" ")}
    )
    assert r.status_code == 200, "a file that flies may replace it"


DIALECTS_THAT_FLY = [
    "mavproxy_home_current0.waypoints",
    "mission_planner_home_cmd0.waypoints",
    "ardupilot_comments_renumbered.waypoints",
    "mission_fence_rally_mixed.waypoints",
    "qgc_survey_v4.plan",
    "qgc_simpleitem_coordinate.plan",
    "qgc_home_null_alt.plan",
    "qgc_fence_no_version.plan",
]
DIALECTS_REFUSED = [
    ("fence_only.waypoints", "file", "this is a geofence file"),
    ("rally_only.waypoints", "file", "this is a rally point file"),
    ("ardupilot_home_only.waypoints", "file", "only the home position"),
    ("qgc_survey_v3.plan", "mission.items[1].version", "open and save the plan in QGroundControl"),
    ("qgc_above_terrain_null_alt.plan", "mission.items[1].params[6]", "'above terrain'"),
]


async def test_files_of_every_dialect_make_plans_or_are_refused_saying_why(
    client: AsyncTestClient, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    for name in DIALECTS_THAT_FLY:
        blob = await upload(client, auth, name, (OWN / name).read_bytes())
        r = await client.post(
            "/gosd/api/v2/plans/",
            headers=auth,
            json={"name": name, "node_id": node_id, "files": {"mission": blob}},
        )
        assert r.status_code == 201, (name, r.text)
    for name, location, words in DIALECTS_REFUSED:
        blob = await upload(client, auth, name, (OWN / name).read_bytes())
        r = await client.post(
            "/gosd/api/v2/plans/",
            headers=auth,
            json={"name": name, "node_id": node_id, "files": {"waypoint": blob}},
        )
        assert r.status_code == 422, (name, r.text)
        assert r.json()["location"] == f"files.waypoint: {location}", name
        assert words in r.json()["error_message"], name
    assert await _plan_count(client, auth) == len(DIALECTS_THAT_FLY)


async def test_a_fence_file_uploaded_as_a_mission_form_is_refused(
    client: AsyncTestClient, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        files={
            "name": (None, "fence"),
            "node_id": (None, str(node_id)),
            "mission": ("fence.waypoints", (OWN / "fence_only.waypoints").read_bytes()),
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["location"] == "files.mission: file"
    assert "geofence file (1 fence polygon, 1 fence circle" in r.json()["error_message"]
    assert await _plan_count(client, auth) == 0
