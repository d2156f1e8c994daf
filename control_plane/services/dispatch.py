"""Job dispatch bookkeeping: which job a node runs next, and what its agent reported.

The messaging layer decides *when* (a node came online, a job was created or ended);
this module decides *what*, inside database transactions, so that a control plane
restart or a second replica never sends a job twice or loses an event (DESIGN §4.2):

- a node has at most one active job; the oldest queued job is the next one;
- an agent's events are stored once per ``(node, stream, seq)`` and applied in ``seq``
  order with no gap; the acknowledgement says how far that is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import msgspec
from tortoise.transactions import in_transaction

from control_plane.db.models import Blob, Job, JobEvent, Node, PlanFile
from control_plane.services.clock import Clock
from control_plane.services.jobs import JobOut, job_out
from shared.enums import JobStatus
from shared.errors import JobFailure
from shared.messages import EventAck, FileRef, JobSpec
from shared.messages import JobEvent as WireEvent

log = logging.getLogger(__name__)

_RANK = {
    JobStatus.QUEUED: 0,
    JobStatus.DISPATCHED: 1,
    JobStatus.ACCEPTED: 2,
    JobStatus.PREPARING: 3,
    JobStatus.RUNNING: 4,
    JobStatus.SUCCEEDED: 5,
    JobStatus.FAILED: 5,
    JobStatus.CANCELLED: 5,
}
_ON_NODE = [JobStatus.DISPATCHED, JobStatus.ACCEPTED, JobStatus.PREPARING, JobStatus.RUNNING]


def may_move(current: JobStatus, new: JobStatus) -> bool:
    """The job state machine: forward only, ``running`` may repeat (progress), and a
    terminal state is final."""
    if current.is_terminal:
        return False
    return _RANK[new] > _RANK[current] or new is current is JobStatus.RUNNING


class Delivery(NamedTuple):
    """A job to send to its node, with the RPC request id that makes resending safe."""

    job: JobOut
    spec: JobSpec
    request_id: str


class Recorded(NamedTuple):
    ack: EventAck
    job: JobOut | None
    """The job the event changed, if it changed one."""


class DispatchService:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def next_delivery(self, node_id: int) -> Delivery | None:
        """The job the node should be sent now, or None.

        A job already ``dispatched`` (its delivery may not have arrived) is sent again
        with the same request id; the agent answers a repeat from its cache. Otherwise,
        when the node has no active job, its oldest queued job becomes ``dispatched``.
        A job whose files no longer exist fails ``invalid_job`` and the next is tried.
        """
        while True:
            async with in_transaction():
                await Node.filter(id=node_id).select_for_update().first()
                active = (
                    await Job.filter(node_id=node_id, status__in=_ON_NODE).order_by("id").first()
                )
                if active is not None and active.status != JobStatus.DISPATCHED:
                    return None
                job = active or (
                    await Job.filter(node_id=node_id, status=JobStatus.QUEUED)
                    .order_by("id")
                    .first()
                )
                if job is None:
                    return None
                spec = await _spec_of(job)
                if spec is None:
                    await self._finish_locked(
                        job, JobStatus.FAILED, JobFailure.INVALID_JOB, "a file of the job is gone"
                    )
                    continue
                if job.status == JobStatus.QUEUED:
                    job.status = JobStatus.DISPATCHED.value
                    job.dispatched_at = self._clock()
                    await job.save()
                    await self._control_plane_event(job, JobStatus.DISPATCHED, None, "")
                return Delivery(job_out(job), spec, f"job_start-{job.id}")

    async def reject(self, job_pk: int, reason: JobFailure, detail: str) -> JobOut | None:
        """Fail a dispatched job the node refused (or could not be reached for)."""
        async with in_transaction():
            job = await Job.filter(id=job_pk).select_for_update().first()
            if job is None or job.status != JobStatus.DISPATCHED:
                return None
            await self._finish_locked(job, JobStatus.FAILED, reason, detail)
            return job_out(job)

    async def cancel_locally(self, job_pk: int, reason: JobFailure, detail: str) -> JobOut | None:
        """Cancel a job no node is running (queued, or unknown to its agent)."""
        async with in_transaction():
            job = await Job.filter(id=job_pk).select_for_update().first()
            if job is None or JobStatus(job.status).is_terminal:
                return None
            await self._finish_locked(job, JobStatus.CANCELLED, reason, detail)
            return job_out(job)

    async def expire_waiting(self, offline_nodes: Iterable[int], timeout_s: float) -> list[JobOut]:
        """Fail the jobs that waited longer than ``timeout_s`` for a node that is offline."""
        nodes = list(offline_nodes)
        if not nodes:
            return []
        cutoff = self._clock() - timedelta(seconds=timeout_s)
        expired: list[JobOut] = []
        candidates = await Job.filter(
            node_id__in=nodes, status__in=[JobStatus.QUEUED, JobStatus.DISPATCHED]
        ).order_by("id")
        for candidate in candidates:
            since = candidate.dispatched_at or candidate.created_at
            if since > cutoff:
                continue
            async with in_transaction():
                job = await Job.filter(id=candidate.id).select_for_update().first()
                if job is None or job.status not in (JobStatus.QUEUED, JobStatus.DISPATCHED):
                    continue
                await self._finish_locked(
                    job,
                    JobStatus.FAILED,
                    JobFailure.NODE_OFFLINE,
                    f"node {job.node_id} stayed offline for {timeout_s:g} s",
                )
                expired.append(job_out(job))
        return expired

    async def nodes_with_waiting_jobs(self) -> list[int]:
        """Nodes with a queued or dispatched job: what a sweep should look at."""
        rows = (
            await Job.filter(status__in=[JobStatus.QUEUED, JobStatus.DISPATCHED])
            .distinct()
            .values("node_id")
        )
        return sorted({int(row["node_id"]) for row in rows})

    async def record(self, node_id: int, event: WireEvent) -> Recorded:
        """Store an agent's event once, apply it to its job, and say what to acknowledge.

        Events are applied strictly in ``seq`` order: a repeat is acknowledged again and
        ignored, and an event after a gap is not stored; its ack asks the agent to replay
        what follows the last stored one. A new ``stream`` (a wiped agent outbox) is
        adopted where it starts.
        """
        async with in_transaction():
            node = await Node.filter(id=node_id).select_for_update().first()
            if node is None:
                raise LookupError(f"node {node_id} does not exist")
            if event.stream != node.events_stream:
                log.info(
                    "node %s: new event stream %s from seq %s", node_id, event.stream, event.seq
                )
                node.events_stream, node.events_seq = event.stream, event.seq - 1
            if event.seq <= node.events_seq:
                return Recorded(EventAck(seq=node.events_seq, stream=node.events_stream), None)
            if event.seq > node.events_seq + 1:
                await node.save(update_fields=["events_stream", "events_seq"])
                ack = EventAck(seq=node.events_seq, stream=node.events_stream, replay=True)
                return Recorded(ack, None)
            job = await (
                Job.filter(node_id=node_id, plan_id=event.plan_id, job_id=event.job_id)
                .select_for_update()
                .first()
            )
            changed = None
            if job is None:
                log.warning(
                    "node %s reported job %s/%s, which is not one of its jobs",
                    node_id,
                    event.plan_id,
                    event.job_id,
                )
            else:
                await JobEvent.create(
                    job_id=job.id,
                    node_id=node_id,
                    stream=event.stream,
                    seq=event.seq,
                    state=event.state.value,
                    progress=_progress(event),
                    reason=event.reason,
                    detail=event.detail,
                    time=datetime.fromtimestamp(event.time, UTC),
                    received_at=self._clock(),
                )
                if may_move(JobStatus(job.status), event.state):
                    self._apply(job, event)
                    await job.save()
                    changed = job_out(job)
            node.events_seq = event.seq
            await node.save(update_fields=["events_stream", "events_seq"])
            return Recorded(EventAck(seq=node.events_seq, stream=node.events_stream), changed)

    def _apply(self, job: Job, event: WireEvent) -> None:
        now = self._clock()
        job.status = event.state.value
        if event.progress is not None:
            job.progress = _progress(event)
            if event.progress.item is not None:  # what a resume starts after
                job.last_item = event.progress.item
        if event.state is JobStatus.RUNNING and job.started_at is None:
            job.started_at = now
        if event.state.is_terminal:
            job.finished_at = now
            if event.state is not JobStatus.SUCCEEDED:
                job.error = {"code": event.reason or event.state.value, "message": event.detail}

    async def _finish_locked(
        self, job: Job, state: JobStatus, reason: JobFailure, detail: str
    ) -> None:
        job.status = state.value
        job.finished_at = self._clock()
        job.error = {"code": reason.value, "message": detail}
        await job.save()
        await self._control_plane_event(job, state, reason, detail)

    async def _control_plane_event(
        self, job: Job, state: JobStatus, reason: JobFailure | None, detail: str
    ) -> None:
        now = self._clock()
        await JobEvent.create(
            job_id=job.id,
            node_id=job.node_id,
            state=state.value,
            reason=reason.value if reason else None,
            detail=detail,
            time=now,
            received_at=now,
        )


def _progress(event: WireEvent) -> dict[str, Any] | None:
    """The event's progress as stored: the counts always, and what else the agent sent
    (the item reached, the flight's stage)."""
    p = event.progress
    if p is None:
        return None
    counts: dict[str, Any] = {"current": p.current, "total": p.total, "percent": p.percent}
    sent: dict[str, Any] = msgspec.to_builtins(p)
    return counts | sent


async def _spec_of(job: Job) -> JobSpec | None:
    """The job as its agent needs it: the plan's files overlaid with the job's own."""
    keys: dict[str, int] = {pf.key: pf.blob_id for pf in await PlanFile.filter(plan_id=job.plan_id)}
    for key, blob_id in job.files.items():
        keys[key] = int(blob_id)
    blobs = {b.id: b for b in await Blob.filter(id__in=list(set(keys.values())))}
    if any(blob_id not in blobs for blob_id in keys.values()):
        return None
    plan_extra = (await job.plan).extra
    return JobSpec(
        plan_id=job.plan_id,
        job_id=job.job_id,
        files={
            key: FileRef(
                blob_id=str(blob_id),
                sha256=blobs[blob_id].sha256,
                size=blobs[blob_id].size,
                filename=blobs[blob_id].filename,
            )
            for key, blob_id in sorted(keys.items())
        },
        extra={**plan_extra, **job.extra},
    )
