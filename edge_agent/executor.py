"""Runs the node's jobs, one at a time, and writes their life to the outbox (§4.2).

Every state change is an outbox append before anything else sees it, so the control
plane learns each step exactly once in effect, even across crashes. The outbox also
remembers the current job, which makes ``job_start`` idempotent (a retried start of a
known job is answered ``accepted`` again, not run twice) and lets a restarted agent
close the job it died in (``failed``, reason ``agent_restarted``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from edge_agent.drivers.base import Driver, DriverError
from edge_agent.fetcher import FetchError, FileFetcher, is_sha256
from edge_agent.outbox import Outbox
from edge_agent.rpc import RpcFailure, parse_params
from shared.enums import JobStatus
from shared.errors import JobFailure, RpcErrorCode
from shared.messages import JobCancelParams, JobSpec, JobStartParams, Progress

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0
"""How long a cancel waits for the job's task to wind down."""


def validate_job(job: JobSpec) -> None:
    """Reject, before accepting, a job that cannot be run as given."""
    if job.plan_id <= 0 or job.job_id <= 0:
        raise RpcFailure(RpcErrorCode.INVALID_JOB, "plan_id and job_id must be positive")
    for key, ref in job.files.items():
        if not key or len(key) > 128:
            raise RpcFailure(RpcErrorCode.INVALID_JOB, f"bad file key {key[:128]!r}")
        if not is_sha256(ref.sha256):
            raise RpcFailure(RpcErrorCode.INVALID_JOB, f"file {key!r}: sha256 is not 64 hex")
        if ref.size < 0 or not ref.blob_id or "/" in ref.blob_id or len(ref.blob_id) > 128:
            raise RpcFailure(RpcErrorCode.INVALID_JOB, f"file {key!r}: bad blob_id or size")


class Executor:
    """At most one job at a time, run by the driver, reported through the outbox."""

    def __init__(self, outbox: Outbox, driver: Driver, fetcher: FileFetcher) -> None:
        self._outbox = outbox
        self._driver = driver
        self._fetcher = fetcher
        self._task: asyncio.Task[None] | None = None
        self._job: JobSpec | None = None
        self._abort: tuple[JobFailure, str | None] | None = None
        """Why the running job is being cancelled (reason, stop action), set before cancel."""
        self._tasks: asyncio.TaskGroup | None = None
        self._lock = asyncio.Lock()
        """Serialises job_start/job_cancel/emergency_stop decisions."""

    def recover(self) -> None:
        """Close a job a previous run of the agent left active (it was killed)."""
        record = self._outbox.job()
        if record is not None and record.active:
            log.warning("job %s was %s when the agent stopped: failed", record.key, record.state)
            self._outbox.append(
                record.plan_id,
                record.job_id,
                JobStatus.FAILED,
                reason=JobFailure.AGENT_RESTARTED,
                detail=f"the agent restarted while the job was {record.state}",
            )

    async def run(self) -> None:
        """Host the job tasks until cancelled (a running job is abandoned, not reported)."""
        self.recover()
        async with asyncio.TaskGroup() as tg:
            self._tasks = tg
            try:
                await asyncio.Future()
            finally:
                self._tasks = None

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def job_start(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(params.get("job"), dict):
            raise RpcFailure(RpcErrorCode.INVALID_PARAMS, "params.job must be an object")
        try:
            job = msgspec.convert(dict(params), JobStartParams).job
        except msgspec.ValidationError as exc:
            raise RpcFailure(RpcErrorCode.INVALID_JOB, str(exc)) from None
        validate_job(job)
        async with self._lock:
            record = self._outbox.job()
            if record is not None and record.key == job.key:
                return {"accepted": True}
            if self.busy or (record is not None and record.active):
                raise RpcFailure(RpcErrorCode.BUSY, f"job {record.key if record else '?'} runs")
            if self._tasks is None:
                raise RpcFailure(RpcErrorCode.INTERNAL_ERROR, "the executor is not running")
            self._outbox.append(job.plan_id, job.job_id, JobStatus.ACCEPTED)
            self._job, self._abort = job, None
            self._task = self._tasks.create_task(self._run_job(job), name=f"job {job.key}")
        return {"accepted": True}

    async def job_cancel(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cancel: JobCancelParams = parse_params(params, JobCancelParams)
        key = f"{cancel.plan_id}/{cancel.job_id}"
        async with self._lock:
            record = self._outbox.job()
            if self.busy and self._job is not None and self._job.key == key:
                await self._abort_job(JobFailure.CANCELLED, cancel.action)
                return {}
            if record is not None and record.key == key and not record.active:
                return {}  # already over: a retried cancel
        raise RpcFailure(RpcErrorCode.UNKNOWN_JOB, f"job {key} is not running here")

    async def emergency_stop(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The vehicle first, without waiting for anything; then the job is aborted."""
        try:
            await self._driver.emergency_stop()
        finally:  # even when the driver fails, no job goes on
            async with self._lock:
                if self.busy:
                    await self._abort_job(JobFailure.EMERGENCY_STOP, None)
        return {}

    async def _abort_job(self, reason: JobFailure, action: str | None) -> None:
        task = self._task
        assert task is not None
        self._abort = (reason, action)
        task.cancel()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await asyncio.wait([task])
        except TimeoutError:
            log.error("job task did not stop within %.0f s", STOP_TIMEOUT_S)

    async def _run_job(self, job: JobSpec) -> None:
        outbox, driver = self._outbox, self._driver

        async def report(progress: Progress) -> None:
            outbox.append(job.plan_id, job.job_id, JobStatus.RUNNING, progress=progress)

        try:
            outbox.append(job.plan_id, job.job_id, JobStatus.PREPARING)
            files: dict[str, Path] = await self._fetcher.fetch_all(job.files)
            await driver.prepare(job, files)
            outbox.append(job.plan_id, job.job_id, JobStatus.RUNNING, progress=Progress())
            await driver.run(job, report)
        except asyncio.CancelledError:
            abort = self._abort
            if abort is None:
                raise  # the agent is stopping: the next start reports the job
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            reason, action = abort
            if reason is JobFailure.CANCELLED:
                await self._stop_vehicle(action)
            outbox.append(job.plan_id, job.job_id, JobStatus.CANCELLED, reason=reason)
        except FetchError as exc:
            self._fail(job, exc.reason, exc.detail)
        except DriverError as exc:
            reason = exc.code if isinstance(exc.code, JobFailure) else JobFailure.DRIVER_ERROR
            self._fail(job, reason, str(exc))
        except Exception as exc:
            log.exception("job %s: driver failure", job.key)
            self._fail(job, JobFailure.DRIVER_ERROR, f"{type(exc).__name__}: {exc}")
        else:
            outbox.append(job.plan_id, job.job_id, JobStatus.SUCCEEDED)

    async def _stop_vehicle(self, action: str | None) -> None:
        try:
            await self._driver.stop(action)
        except Exception:
            log.exception("the driver failed to stop the vehicle after a cancel")

    def _fail(self, job: JobSpec, reason: JobFailure, detail: str) -> None:
        log.warning("job %s failed: %s (%s)", job.key, reason, detail)
        self._outbox.append(job.plan_id, job.job_id, JobStatus.FAILED, reason=reason, detail=detail)
