"""Jobs: runs of a plan. Dispatch to nodes comes with the MQTT bridge; here a job is
created ``queued`` and can be cancelled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from control_plane.db.models import Job, Plan
from control_plane.errors import Conflict, NotFound
from control_plane.services.clock import Clock
from control_plane.services.plans import own_plan, parse_file_ids, validate_extra
from control_plane.services.principal import Principal
from shared.enums import ACTIVE_JOB_STATUSES, JobStatus


class JobOut(msgspec.Struct, frozen=True):
    """A job in the seed's shape plus its state (DESIGN §5)."""

    id: int
    job_id: int
    plan_id: int
    files: dict[str, str]
    extra: dict[str, str]
    created_at: datetime
    updated_at: datetime
    status: JobStatus
    node_id: int
    progress: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None
    error: dict[str, Any] | None


def _out(job: Job) -> JobOut:
    return JobOut(
        id=job.id,
        job_id=job.job_id,
        plan_id=job.plan_id,
        files=job.files,
        extra=job.extra,
        created_at=job.created_at,
        updated_at=job.updated_at,
        status=JobStatus(job.status),
        node_id=job.node_id,
        progress=job.progress,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=job.error,
    )


class JobService:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def create(
        self,
        principal: Principal,
        plan_id: int,
        *,
        files: dict[str, str] | None = None,
        extra: dict[str, str] | None = None,
    ) -> JobOut:
        """Queue a run of a plan; ``job_id`` is the next run number of that plan.

        The plan row's counter is incremented with an UPDATE first, which takes the
        row's write lock until commit, so concurrent runs get distinct numbers on
        PostgreSQL and SQLite alike (and a unique index backs it up).
        """
        files, extra = files or {}, extra or {}
        validate_extra(extra)
        await own_plan(principal, plan_id)
        await parse_file_ids(principal, files, "files")
        async with in_transaction():
            await Plan.filter(id=plan_id).update(job_seq=F("job_seq") + 1)
            plan = await Plan.get(id=plan_id)
            job = await Job.create(
                plan_id=plan.id,
                job_id=plan.job_seq,
                group_id=plan.group_id,
                node_id=plan.node_id,
                files=files,
                extra=extra,
                status=JobStatus.QUEUED.value,
            )
        return _out(job)

    async def list(self, principal: Principal, plan_id: int) -> list[JobOut]:
        await own_plan(principal, plan_id)
        return [_out(j) for j in await Job.filter(plan_id=plan_id).order_by("job_id")]

    async def get(self, principal: Principal, plan_id: int, job_id: int) -> JobOut:
        return _out(await self._own(principal, plan_id, job_id))

    async def running(self, principal: Principal, plan_id: int) -> JobOut | None:
        """The plan's active job (the oldest, as they run in order), or None."""
        await own_plan(principal, plan_id)
        job = await self._active(plan_id)
        return _out(job) if job else None

    async def cancel(self, principal: Principal, plan_id: int, job_id: int | None) -> JobOut:
        """Cancel a job (``job_id``) or the plan's active job (``None``)."""
        async with in_transaction():
            if job_id is None:
                await own_plan(principal, plan_id)
                job = await self._active(plan_id)
                if job is None:
                    raise NotFound(f"plan {plan_id} has no active job")
            else:
                job = await self._own(principal, plan_id, job_id)
            if JobStatus(job.status).is_terminal:
                raise Conflict(f"job {job.job_id} is {job.status} already", status=job.status)
            now = self._clock()
            job.status = JobStatus.CANCELLED.value
            job.finished_at = now
            job.error = {"code": "cancelled", "message": "cancelled by " + principal.name}
            await job.save()
        return _out(job)

    async def _own(self, principal: Principal, plan_id: int, job_id: int) -> Job:
        await own_plan(principal, plan_id)
        job = await Job.get_or_none(plan_id=plan_id, job_id=job_id)
        if job is None:
            raise NotFound(f"plan {plan_id} has no job {job_id}")
        return job

    async def _active(self, plan_id: int) -> Job | None:
        return (
            await Job.filter(plan_id=plan_id, status__in=list(ACTIVE_JOB_STATUSES))
            .order_by("id")
            .first()
        )
