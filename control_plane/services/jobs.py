"""Jobs: runs of a plan, as people see them. Sending them to nodes and recording what
nodes report is ``dispatch.py``'s business; where a resume starts, ``resume.py``'s."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

import msgspec
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from control_plane.db.models import Job, JobEvent, Plan, PlanFile
from control_plane.errors import Conflict, NotFound
from control_plane.services.blob_store import BlobStore, StagedFile
from control_plane.services.clock import Clock
from control_plane.services.mission_files import check_job_missions, endless_loops
from control_plane.services.plans import own_plan, parse_file_ids, validate_extra
from control_plane.services.principal import Principal
from control_plane.services.resume import check_resume_from, job_mission, resume_from
from shared.enums import ACTIVE_JOB_STATUSES, JobStatus
from shared.mission import MISSION_FILE_KEYS
from shared.mission.feasibility import PX4_DEFAULTS, MissionLimits


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
    dispatched_at: datetime | None
    last_item: int | None = None
    """The last mission item reached (its number in the mission file), when one was."""
    resume_of: int | None = None
    """The run (``job_id``) whose rest this one flies, for a resume."""


class JobEventOut(msgspec.Struct, frozen=True):
    """One step of a job's history. ``seq`` is the agent's event number; steps the
    control plane took itself (queued, dispatched, timeouts) have none."""

    seq: int | None
    state: JobStatus
    progress: dict[str, Any] | None
    reason: str | None
    detail: str
    time: datetime
    received_at: datetime


def job_out(job: Job) -> JobOut:
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
        dispatched_at=job.dispatched_at,
        last_item=job.last_item,
        resume_of=job.resume_of,
    )


class JobService:
    def __init__(
        self,
        clock: Clock,
        store: BlobStore,
        *,
        mission_limits: MissionLimits = PX4_DEFAULTS,
    ) -> None:
        self._clock = clock
        self._store = store
        """Where mission files are read from: to check a job's inputs, and the one a
        resumed job flew."""
        self._limits = mission_limits

    async def check_inputs(
        self,
        plan: Plan,
        *,
        file_ids: dict[str, int] | None = None,
        extra: dict[str, str] | None = None,
        staged: list[tuple[str, StagedFile]] | None = None,
    ) -> None:
        """Check the mission the job would fly where its inputs change it: its own mission
        file (stored, or a form's ``staged`` part before it is stored) and the plan's when
        the job's ``extra`` changes what the check decides (``mission_files``)."""
        file_ids, extra, staged = file_ids or {}, extra or {}, staged or []
        keys = {*file_ids, *(key for key, _ in staged)}
        changes_extra = endless_loops({**plan.extra, **extra}) != endless_loops(plan.extra)
        if not (keys & set(MISSION_FILE_KEYS) or changes_extra):
            return
        rows = await PlanFile.filter(plan_id=plan.id).values_list("key", "blob_id")
        plan_files = {str(key): int(blob_id) for key, blob_id in rows}
        await check_job_missions(
            self._store,
            plan_files=plan_files,
            plan_extra=plan.extra,
            job_files=file_ids,
            job_extra=extra,
            staged=staged,
            limits=self._limits,
        )

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
        plan = await own_plan(principal, plan_id)
        file_ids = await parse_file_ids(principal, files, "files")
        await self.check_inputs(plan, file_ids=file_ids, extra=extra)
        if "resume_from" in extra or "resume_from" in plan.extra:
            mission = await job_mission(self._store, plan_id, files)
            check_resume_from(mission, {**plan.extra, **extra})
        return await self._queue(plan_id, files, extra)

    async def _queue(
        self,
        plan_id: int,
        files: dict[str, str],
        extra: dict[str, str],
        *,
        resume_of: int | None = None,
        detail: str = "",
    ) -> JobOut:
        async with in_transaction():
            await Plan.filter(id=plan_id).update(job_seq=F("job_seq") + 1)
            plan = await Plan.get(id=plan_id)
            if resume_of is not None:  # under the plan row's lock: one resume per job
                earlier = await Job.get_or_none(plan_id=plan_id, resume_of=resume_of)
                if earlier is not None:
                    raise Conflict(
                        f"job {resume_of} was resumed already by job {earlier.job_id}; "
                        f"resume that one",
                        job_id=earlier.job_id,
                    )
            job = await Job.create(
                plan_id=plan.id,
                job_id=plan.job_seq,
                group_id=plan.group_id,
                node_id=plan.node_id,
                files=files,
                extra=extra,
                status=JobStatus.QUEUED.value,
                resume_of=resume_of,
            )
            now = self._clock()
            await JobEvent.create(
                job_id=job.id,
                node_id=job.node_id,
                state=job.status,
                detail=detail,
                time=now,
                received_at=now,
            )
        return job_out(job)

    async def resume(self, principal: Principal, plan_id: int, job_id: int) -> JobOut:
        """Queue the rest of a job that ended early: a new run of the plan, on the same
        mission file, from the item after the last one it reached (``resume.py``).

        ``Conflict`` when the job is active, succeeded, reached the end, was resumed
        already, or stopped where the mission cannot be resumed (the message says which).
        """
        job = await self._own(principal, plan_id, job_id)
        plan = await own_plan(principal, plan_id)
        mission = await job_mission(self._store, plan_id, job.files)
        start = resume_from(job, plan.extra, mission)
        assert mission is not None  # resume_from refuses a job without one
        files = {**job.files, mission.key: str(mission.blob_id)}
        extra = {**job.extra, "resume_from": str(start)}
        left = (
            f"item {start}" if start == mission.total - 1 else f"items {start}..{mission.total - 1}"
        )
        detail = f"resumes job {job.job_id}: {left} of {mission.total} left"
        return await self._queue(plan_id, files, extra, resume_of=job.job_id, detail=detail)

    async def list(self, principal: Principal, plan_id: int) -> list[JobOut]:
        await own_plan(principal, plan_id)
        return [job_out(j) for j in await Job.filter(plan_id=plan_id).order_by("job_id")]

    async def get(self, principal: Principal, plan_id: int, job_id: int) -> JobOut:
        return job_out(await self._own(principal, plan_id, job_id))

    async def running(self, principal: Principal, plan_id: int) -> JobOut | None:
        """The plan's active job (the oldest, as they run in order), or None."""
        await own_plan(principal, plan_id)
        job = await self._active(plan_id)
        return job_out(job) if job else None

    async def cancellable(self, principal: Principal, plan_id: int, job_id: int | None) -> JobOut:
        """The job a cancel request means: ``job_id``, or (None) the plan's active job.

        Raises NotFound, or Conflict when the job has ended already. Cancelling is the
        dispatcher's business: a queued job is cancelled here, a job on a node by its agent.
        """
        if job_id is None:
            await own_plan(principal, plan_id)
            job = await self._active(plan_id)
            if job is None:
                raise NotFound(f"plan {plan_id} has no active job")
        else:
            job = await self._own(principal, plan_id, job_id)
        if JobStatus(job.status).is_terminal:
            raise Conflict(f"job {job.job_id} is {job.status} already", status=job.status)
        return job_out(job)

    async def plan_node(self, principal: Principal, plan_id: int) -> int:
        """The node a plan of the caller's group runs on."""
        return (await own_plan(principal, plan_id)).node_id

    async def active_of_plan(self, plan_id: int) -> JobOut | None:
        job = await self._active(plan_id)
        return job_out(job) if job else None

    async def by_pk(self, job_pk: int) -> JobOut:
        return job_out(await Job.get(id=job_pk))

    async def events(
        self, principal: Principal, plan_id: int, job_id: int
    ) -> builtins.list[JobEventOut]:
        """A job's whole history in the order it happened (DESIGN §4.2)."""
        job = await self._own(principal, plan_id, job_id)
        rows = (
            await JobEvent.filter(job_id=job.id)
            .order_by("id")
            .values("seq", "state", "progress", "reason", "detail", "time", "received_at")
        )
        return [JobEventOut(**row) for row in rows]

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
