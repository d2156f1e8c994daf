"""Dispatch bookkeeping against a real database: FIFO per node, one active job, and
agent events stored once, in order, with no gap (DESIGN §4.2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import pytest

from control_plane.db.lifecycle import open_database
from control_plane.db.models import Group, JobEvent
from control_plane.services import nodes, plans
from control_plane.services.blob_store import BlobStore
from control_plane.services.dispatch import DispatchService
from control_plane.services.jobs import JobService
from control_plane.services.nodes import NodeWrite
from control_plane.services.plans import PlanWrite
from control_plane.services.principal import Principal
from shared.enums import JobStatus, NodeType
from shared.errors import JobFailure
from shared.messages import JobEvent as WireEvent
from shared.messages import Progress
from tests.conftest import ManualClock

pytestmark = pytest.mark.integration


class World(NamedTuple):
    dispatch: DispatchService
    jobs: JobService
    people: Principal
    node_id: int
    other_node_id: int
    plan_id: int


@pytest.fixture
async def world(database_url: str, clock: ManualClock, tmp_path: Path) -> AsyncIterator[World]:
    async with open_database(database_url):
        group = await Group.get(name="demo")
        people = Principal(kind="user", id=1, group_id=group.id, name="demo", is_admin=True)
        node = await nodes.create_node(people, NodeWrite(name="d1", type_name=NodeType.AIR))
        other = await nodes.create_node(people, NodeWrite(name="d2", type_name=NodeType.AIR))
        plan = await plans.create_plan(
            people, PlanWrite(name="p", node_id=node.id), store=BlobStore(tmp_path / "blobs")
        )
        jobs = JobService(clock, BlobStore(tmp_path / "blobs"))
        yield World(DispatchService(clock), jobs, people, node.id, other.id, plan.id)


def event(
    seq: int, state: JobStatus, job_id: int = 1, stream: str = "s1", **kw: object
) -> WireEvent:
    return WireEvent(
        seq=seq,
        stream=stream,
        plan_id=kw.pop("plan_id", 0),
        job_id=job_id,
        state=state,
        time=1_700_000_000.0 + seq,
        **kw,  # type: ignore[arg-type]
    )


async def test_jobs_go_out_one_at_a_time_in_order(world: World) -> None:
    first = await world.jobs.create(world.people, world.plan_id)
    second = await world.jobs.create(world.people, world.plan_id)

    delivery = await world.dispatch.next_delivery(world.node_id)
    assert delivery is not None and delivery.job.id == first.id
    assert delivery.job.status == JobStatus.DISPATCHED and delivery.job.dispatched_at is not None
    again = await world.dispatch.next_delivery(world.node_id)
    assert again is not None and again.job.id == first.id, "a dispatched job is sent again"
    assert again.request_id == delivery.request_id, "with the same request id"

    w = world
    for seq, state in enumerate([JobStatus.ACCEPTED, JobStatus.SUCCEEDED], start=1):
        await w.dispatch.record(w.node_id, event(seq, state, plan_id=w.plan_id))
    delivery = await world.dispatch.next_delivery(world.node_id)
    assert delivery is not None and delivery.job.id == second.id


async def test_an_accepted_job_blocks_the_queue(world: World) -> None:
    await world.jobs.create(world.people, world.plan_id)
    await world.jobs.create(world.people, world.plan_id)
    assert await world.dispatch.next_delivery(world.node_id) is not None
    await world.dispatch.record(world.node_id, event(1, JobStatus.ACCEPTED, plan_id=world.plan_id))
    assert await world.dispatch.next_delivery(world.node_id) is None


async def test_events_are_stored_once_and_in_order(world: World) -> None:
    w = world
    await w.jobs.create(w.people, w.plan_id)
    await w.dispatch.next_delivery(w.node_id)

    r1 = await w.dispatch.record(w.node_id, event(1, JobStatus.ACCEPTED, plan_id=w.plan_id))
    assert (r1.ack.seq, r1.ack.replay) == (1, False) and r1.job is not None
    duplicate = await w.dispatch.record(w.node_id, event(1, JobStatus.ACCEPTED, plan_id=w.plan_id))
    assert duplicate.ack.seq == 1 and duplicate.job is None

    gap = await w.dispatch.record(
        w.node_id, event(3, JobStatus.RUNNING, plan_id=w.plan_id, progress=Progress(1, 4, 25.0))
    )
    assert (gap.ack.seq, gap.ack.replay) == (1, True), "after a gap, ask for a replay"
    for seq, state in [(2, JobStatus.PREPARING), (3, JobStatus.RUNNING)]:
        r = await w.dispatch.record(
            w.node_id, event(seq, state, plan_id=w.plan_id, progress=Progress(1, 4, 25.0))
        )
        assert r.ack.seq == seq
    done = await w.dispatch.record(w.node_id, event(4, JobStatus.SUCCEEDED, plan_id=w.plan_id))
    assert done.job is not None and done.job.status == JobStatus.SUCCEEDED
    assert done.job.started_at is not None and done.job.finished_at is not None
    assert done.job.progress == {"current": 1, "total": 4, "percent": 25.0}

    history = await w.jobs.events(w.people, w.plan_id, 1)
    assert [(e.seq, e.state) for e in history] == [
        (None, JobStatus.QUEUED),
        (None, JobStatus.DISPATCHED),
        (1, JobStatus.ACCEPTED),
        (2, JobStatus.PREPARING),
        (3, JobStatus.RUNNING),
        (4, JobStatus.SUCCEEDED),
    ]


async def test_a_terminal_job_never_changes_again(world: World) -> None:
    w = world
    await w.jobs.create(w.people, w.plan_id)
    await w.dispatch.record(w.node_id, event(1, JobStatus.FAILED, plan_id=w.plan_id, reason="x"))
    late = await w.dispatch.record(w.node_id, event(2, JobStatus.RUNNING, plan_id=w.plan_id))
    assert late.ack.seq == 2 and late.job is None
    job = await w.jobs.get(w.people, w.plan_id, 1)
    assert job.status == JobStatus.FAILED and job.error == {"code": "x", "message": ""}


async def test_a_node_cannot_report_on_another_nodes_job(world: World) -> None:
    w = world
    await w.jobs.create(w.people, w.plan_id)
    forged = await w.dispatch.record(
        w.other_node_id, event(1, JobStatus.SUCCEEDED, plan_id=w.plan_id)
    )
    assert forged.job is None and forged.ack.seq == 1
    assert (await w.jobs.get(w.people, w.plan_id, 1)).status == JobStatus.QUEUED
    assert await JobEvent.filter(node_id=w.other_node_id).count() == 0


async def test_a_new_outbox_stream_is_adopted(world: World) -> None:
    w = world
    await w.jobs.create(w.people, w.plan_id)
    await w.dispatch.record(w.node_id, event(1, JobStatus.ACCEPTED, plan_id=w.plan_id))
    fresh = await w.dispatch.record(
        w.node_id, event(1, JobStatus.FAILED, plan_id=w.plan_id, stream="s2", reason="r")
    )
    assert (fresh.ack.stream, fresh.ack.seq) == ("s2", 1)
    assert fresh.job is not None and fresh.job.status == JobStatus.FAILED


async def test_jobs_waiting_for_an_offline_node_expire(world: World, clock: ManualClock) -> None:
    w = world
    await w.jobs.create(w.people, w.plan_id)
    assert await w.dispatch.nodes_with_waiting_jobs() == [w.node_id]
    assert await w.dispatch.expire_waiting([w.node_id], timeout_s=60) == []
    clock.advance(61)
    [expired] = await w.dispatch.expire_waiting([w.node_id], timeout_s=60)
    assert expired.status == JobStatus.FAILED
    assert expired.error == {
        "code": JobFailure.NODE_OFFLINE.value,
        "message": f"node {w.node_id} stayed offline for 60 s",
    }
    assert await w.dispatch.nodes_with_waiting_jobs() == []
