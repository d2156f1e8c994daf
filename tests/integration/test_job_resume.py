"""Resuming a job that ended early: the services on a real database and blob store, the
job's life told by agent events as the dispatcher records them; then the HTTP route.

What is asserted is what an operator sees: the job's ``last_item``, the new job's
``resume_of`` and ``extra.resume_from``, its history saying it is a resume, and a clear
409 (or 422 for a job created by hand) when there is nothing to resume.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import pytest
from litestar.testing import AsyncTestClient

from control_plane.db.lifecycle import open_database
from control_plane.db.models import Group
from control_plane.errors import Conflict, InvalidInput, NotFound
from control_plane.services import nodes, plans
from control_plane.services.blob_store import BlobStore
from control_plane.services.blobs import BlobService
from control_plane.services.dispatch import DispatchService
from control_plane.services.jobs import JobOut, JobService
from control_plane.services.nodes import NodeWrite
from control_plane.services.plans import PlanWrite
from control_plane.services.principal import Principal
from shared import mav_cmd
from shared.enums import JobStatus, NodeType
from shared.messages import JobEvent as WireEvent
from shared.messages import Progress
from tests.conftest import ManualClock
from tests.plan_files import do, jump, plan, takeoff, waypoint

pytestmark = pytest.mark.integration

SURVEY = plan(
    [
        takeoff(20),
        do(mav_cmd.DO_CHANGE_SPEED, 1, 5, -1),
        do(mav_cmd.DO_SET_CAM_TRIGG_DIST, 10, 0, 1),
        *(waypoint(n, e) for n, e in [(50, 0), (50, 20), (0, 20), (0, 40), (50, 40)]),
        do(mav_cmd.DO_SET_CAM_TRIGG_DIST, 0),
        do(mav_cmd.NAV_RETURN_TO_LAUNCH),
    ]
)
"""Ten items: takeoff, speed, trigger on, five lane ends (3-7), trigger off, return."""
LOOP = plan([takeoff(), waypoint(30, 0), waypoint(30, 30), jump(1, 2), waypoint(0, 0)])
"""Items 1-2 flown three times (item 3 repeats them twice), then item 4."""


class World(NamedTuple):
    people: Principal
    stranger: Principal
    jobs: JobService
    dispatch: DispatchService
    blobs: BlobService
    node_id: int


@pytest.fixture
async def world(database_url: str, clock: ManualClock, tmp_path: Path) -> AsyncIterator[World]:
    store = BlobStore(tmp_path / "blobs")
    store.prepare()
    async with open_database(database_url):
        group = await Group.get(name="demo")
        other = await Group.get(name="other")
        people = Principal(kind="user", id=1, group_id=group.id, name="demo", is_admin=True)
        stranger = Principal(kind="user", id=2, group_id=other.id, name="other", is_admin=True)
        node = await nodes.create_node(people, NodeWrite(name="d1", type_name=NodeType.AIR))
        yield World(
            people,
            stranger,
            JobService(clock, store),
            DispatchService(clock),
            BlobService(store),
            node.id,
        )


async def blob(world: World, data: bytes, name: str = "survey.plan") -> str:
    staged = world.blobs.store.stage(name, "application/octet-stream")
    await staged.write(data)
    await staged.finish()
    return (await world.blobs.create(world.people, [("f", staged)]))["f"]


async def make_plan(world: World, mission: bytes = SURVEY, **extra: str) -> int:
    files = {"mission": await blob(world, mission)}
    body = PlanWrite(name="survey", node_id=world.node_id, files=files, extra=extra)
    return (await plans.create_plan(world.people, body, store=world.blobs.store)).id


class Agent:
    """The agent's side: events for one job, numbered as its outbox numbers them."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seq = 0

    async def send(self, job: JobOut, state: JobStatus, **kw: object) -> None:
        self.seq += 1
        event = WireEvent(
            seq=self.seq,
            stream="agent",
            plan_id=job.plan_id,
            job_id=job.job_id,
            state=state,
            time=1_700_000_000.0 + self.seq,
            **kw,  # type: ignore[arg-type]
        )
        await self.world.dispatch.record(self.world.node_id, event)

    async def fly(
        self, job: JobOut, items: list[int], total: int, end: JobStatus, reason: str = ""
    ) -> JobOut:
        """The job is sent, accepted, reaches ``items`` and ends ``end``."""
        delivery = await self.world.dispatch.next_delivery(self.world.node_id)
        assert delivery is not None and delivery.job.id == job.id
        for state in (JobStatus.ACCEPTED, JobStatus.PREPARING):
            await self.send(job, state)
        for n, item in enumerate(items, start=1):
            progress = Progress(current=n, total=total, item=item, stage="mission")
            await self.send(job, JobStatus.RUNNING, progress=progress)
        returning = Progress(current=len(items), total=total, stage="returning")
        await self.send(job, JobStatus.RUNNING, progress=returning)
        await self.send(job, end, reason=reason or None, detail="the vehicle left the mission")
        return await self.world.jobs.get(self.world.people, job.plan_id, job.job_id)


async def test_a_job_that_ended_early_is_resumed_from_the_item_after_its_last(
    world: World,
) -> None:
    plan_id = await make_plan(world, min_battery_pct="40")
    first = await world.jobs.create(world.people, plan_id, extra={"takeoff_alt_m": "25"})
    ended = await Agent(world).fly(first, [0, 1, 2, 3, 4], 10, JobStatus.FAILED, "low_battery")
    assert ended.last_item == 4 and ended.resume_of is None

    rest = await world.jobs.resume(world.people, plan_id, first.job_id)
    assert (rest.job_id, rest.status, rest.resume_of) == (2, JobStatus.QUEUED, 1)
    assert rest.extra == {"takeoff_alt_m": "25", "resume_from": "5"}  # the job's own, and where
    plan_files = (await plans.get_plan(world.people, plan_id)).files
    assert rest.files == plan_files  # the mission file the first job flew, pinned
    history = await world.jobs.events(world.people, plan_id, rest.job_id)
    assert [(e.state, e.detail) for e in history] == [
        (JobStatus.QUEUED, "resumes job 1: items 5..9 of 10 left")
    ]
    delivery = await world.dispatch.next_delivery(world.node_id)
    assert delivery is not None and delivery.job.id == rest.id
    assert delivery.spec.extra == {
        "min_battery_pct": "40",
        "takeoff_alt_m": "25",
        "resume_from": "5",
    }


async def test_a_resume_of_a_resume_starts_after_what_both_reached(world: World) -> None:
    plan_id = await make_plan(world)
    agent = Agent(world)
    first = await world.jobs.create(world.people, plan_id)
    await agent.fly(first, [0, 1, 2], 10, JobStatus.CANCELLED, "cancelled")
    second = await world.jobs.resume(world.people, plan_id, first.job_id)
    await agent.fly(second, [3, 4, 5], 10, JobStatus.FAILED, "link_lost")
    third = await world.jobs.resume(world.people, plan_id, second.job_id)
    assert (third.resume_of, third.extra["resume_from"]) == (2, "6")
    # a resume that reached nothing resumes from where it was to start
    await agent.fly(third, [], 10, JobStatus.FAILED, "preflight_failed")
    fourth = await world.jobs.resume(world.people, plan_id, third.job_id)
    assert (fourth.resume_of, fourth.extra["resume_from"]) == (3, "6")


async def test_what_cannot_be_resumed_is_a_conflict_saying_why(world: World) -> None:
    plan_id = await make_plan(world)
    agent = Agent(world)
    first = await world.jobs.create(world.people, plan_id)

    async def refused(job_id: int) -> str:
        with pytest.raises(Conflict) as conflict:
            await world.jobs.resume(world.people, plan_id, job_id)
        return str(conflict.value)

    assert "job 1 is still queued" in await refused(1)
    done = await agent.fly(first, list(range(10)), 10, JobStatus.SUCCEEDED)
    assert done.last_item == 9
    assert "job 1 succeeded" in await refused(1)

    second = await world.jobs.create(world.people, plan_id)
    await agent.fly(second, list(range(10)), 10, JobStatus.FAILED, "vehicle_failsafe")
    assert "nothing is left to fly" in await refused(2)  # failed on the way home

    third = await world.jobs.create(world.people, plan_id)
    await agent.fly(third, [0, 1], 10, JobStatus.CANCELLED, "cancelled")
    await world.jobs.resume(world.people, plan_id, 3)
    assert "job 3 was resumed already by job 4" in await refused(3)
    with pytest.raises(NotFound):
        await world.jobs.resume(world.stranger, plan_id, 3)  # another group's: unknown
    with pytest.raises(NotFound):
        await world.jobs.resume(world.people, plan_id, 99)


async def test_a_stop_inside_a_repeated_section_is_refused_with_what_to_do(world: World) -> None:
    plan_id = await make_plan(world, LOOP)
    first = await world.jobs.create(world.people, plan_id)
    await Agent(world).fly(first, [0, 1, 2], 5, JobStatus.FAILED, "low_battery")
    with pytest.raises(Conflict) as conflict:
        await world.jobs.resume(world.people, plan_id, first.job_id)
    message = str(conflict.value)
    assert message.startswith("job 1 cannot be resumed (after item 2, the last job 1 reached)")
    assert "resume from item 1 (extra.resume_from)" in message
    # as it says: a job of its own from the section's first item
    by_hand = await world.jobs.create(world.people, plan_id, extra={"resume_from": "1"})
    assert by_hand.extra == {"resume_from": "1"} and by_hand.resume_of is None


async def test_a_job_created_with_a_resume_point_the_mission_cannot_fly_is_a_422(
    world: World,
) -> None:
    plan_id = await make_plan(world, LOOP)
    for value, words in [
        ("5", "nothing is left to fly"),
        ("2", "inside the section (items 1..3)"),
        ("x", "'x' is not a whole number"),
        ("10000", "10000 is outside 0..9999"),
    ]:
        with pytest.raises(InvalidInput) as invalid:
            await world.jobs.create(world.people, plan_id, extra={"resume_from": value})
        assert words in str(invalid.value), value
        assert invalid.value.details["location"] == "extra.resume_from"
    no_mission = await plans.create_plan(
        world.people, PlanWrite(name="empty", node_id=world.node_id), store=world.blobs.store
    )
    with pytest.raises(InvalidInput, match="no mission file"):
        await world.jobs.create(world.people, no_mission.id, extra={"resume_from": "0"})


async def test_a_plan_whose_mission_changed_since_the_job_is_not_resumed(world: World) -> None:
    plan_id = await make_plan(world)
    first = await world.jobs.create(world.people, plan_id)
    await Agent(world).fly(first, [0, 1], 10, JobStatus.CANCELLED, "cancelled")
    other = {"mission": await blob(world, LOOP, "loop.plan")}
    body = PlanWrite(name="survey", node_id=world.node_id, files=other)
    await plans.replace_plan(world.people, plan_id, body, store=world.blobs.store)
    with pytest.raises(Conflict, match=r"changed since job 1 flew it \(10 items then, 5 now\)"):
        await world.jobs.resume(world.people, plan_id, first.job_id)


# --- over HTTP -------------------------------------------------------------------------

Headers = dict[str, str]
BASE = "/gosd/api/v2"


async def http_plan(client: AsyncTestClient, auth: Headers) -> int:
    r = await client.post(f"{BASE}/nodes/", headers=auth, json={"name": "d", "type_name": "air"})
    assert r.status_code == 201, r.text
    node_id = r.json()["id"]
    r = await client.post(f"{BASE}/blobs/", headers=auth, files={"m": ("s.plan", SURVEY)})
    assert r.status_code == 201, r.text
    body = {"name": "survey", "node_id": node_id, "files": {"mission": r.json()["m"]}}
    r = await client.post(f"{BASE}/plans/", headers=auth, json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_the_resume_route(
    client: AsyncTestClient, auth: Headers, other_auth: Headers
) -> None:
    plan_id = await http_plan(client, auth)
    jobs = f"{BASE}/plans/{plan_id}/jobs"
    first = (await client.post(f"{jobs}/", headers=auth)).json()
    assert (first["last_item"], first["resume_of"]) == (None, None)  # the additive fields

    r = await client.post(f"{jobs}/1/resume", headers=auth)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "conflict"
    assert "job 1 is still queued" in r.json()["error_message"]

    assert (await client.post(f"{jobs}/1/cancel", headers=auth)).json()["status"] == "cancelled"
    assert (await client.post(f"{jobs}/1/resume", headers=other_auth)).status_code == 404
    assert (await client.post(f"{jobs}/7/resume", headers=auth)).status_code == 404
    assert (await client.post(f"{BASE}/plans/999/jobs/1/resume", headers=auth)).status_code == 404
    assert (await client.post(f"{jobs}/1/resume")).status_code == 401

    r = await client.post(f"{jobs}/1/resume", headers=auth)
    assert r.status_code == 201, r.text
    rest = r.json()
    assert (rest["job_id"], rest["resume_of"], rest["extra"]) == (2, 1, {"resume_from": "0"})
    events = (await client.get(f"{jobs}/2/events", headers=auth)).json()
    assert events[0]["detail"] == "resumes job 1: items 0..9 of 10 left"
    again = await client.post(f"{jobs}/1/resume", headers=auth)
    assert again.status_code == 409 and "resumed already by job 2" in again.text
    listed = (await client.get(f"{jobs}/", headers=auth)).json()
    assert [j["resume_of"] for j in listed] == [None, 1]

    for hostile in ["0", "-1", "1.5", "x", "99999999999999999999"]:
        r = await client.post(f"{jobs}/{hostile}/resume", headers=auth)
        assert r.status_code in (400, 404, 422), (hostile, r.status_code)
    assert len((await client.get(f"{jobs}/", headers=auth)).json()) == 2  # no job made
    r = await client.post(f"{jobs}/", headers=auth, json={"extra": {"resume_from": "10"}})
    assert r.status_code == 422, r.text
    assert r.json()["location"] == "extra.resume_from"
    assert "nothing is left to fly" in r.json()["error_message"]
