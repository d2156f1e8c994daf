"""Runs the node's jobs, one at a time, and writes their life to the outbox (§4.2).

Every state change is an outbox append before anything else sees it, so the control
plane learns each step exactly once in effect, even across crashes. The outbox also
remembers the current job and its spec, which makes ``job_start`` idempotent (a retried
start of a known job is answered ``accepted`` again, not run twice) and lets a restarted
agent pick up the job it died in: when the driver can re-attach (``Driver.resume``: a
drone still flying the job's mission) the job goes on from where the vehicle is, with a
``running`` event saying so, and the driver, told the last item the job's events
reported (the outbox keeps it), reports the items reached while the agent was away;
otherwise it is closed ``failed``, reason ``agent_restarted``.

Link-loss policy (``extra.link_loss_action``, DESIGN §6): when the broker link stays
down longer than the job's ``link_loss_timeout_s`` and the action is not ``continue``,
the executor writes a ``running`` event saying what it does ("broker link lost for 30 s:
returning home"), tells the vehicle (``Driver.stop(action)``) and ends the job
``failed``, reason ``link_lost``, once the vehicle acknowledged. Nobody is there to
take over, so the job does not wait for the landing; the events wait in the outbox and
reach the control plane when the link returns, so the job's history tells what happened.
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
from edge_agent.link_loss import LinkLossWatch
from edge_agent.outbox import Outbox
from edge_agent.rpc import RpcFailure, parse_params
from shared.enums import JobStatus
from shared.errors import JobFailure, RpcErrorCode
from shared.job_options import JobOptionError, JobOptions, parse_job_options
from shared.messages import JobCancelParams, JobSpec, JobStartParams, Progress

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0
"""How long a cancel waits for the job's task to wind down."""


LINK_LOSS_WORDS = {"hold": "holding position", "rtl": "returning home", "land": "landing"}
"""What the vehicle does after a link-loss action, for the job's history."""


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
    try:
        parse_job_options(job.extra)
    except JobOptionError as exc:
        raise RpcFailure(RpcErrorCode.INVALID_JOB, str(exc)) from None


class Executor:
    """At most one job at a time, run by the driver, reported through the outbox."""

    def __init__(
        self,
        outbox: Outbox,
        driver: Driver,
        fetcher: FileFetcher,
        *,
        link_connected: asyncio.Event | None = None,
    ) -> None:
        self._outbox = outbox
        self._driver = driver
        self._fetcher = fetcher
        self._link_watch = None if link_connected is None else LinkLossWatch(link_connected)
        self._task: asyncio.Task[None] | None = None
        self._job: JobSpec | None = None
        self._options = JobOptions()
        """The running job's well-known ``extra`` options."""
        self._progress = Progress()
        """The running job's last reported progress."""
        self._abort: tuple[JobFailure, str | None, str] | None = None
        """Why the running job is being stopped (reason, stop action, detail), set before
        its task is cancelled."""
        self._tasks: asyncio.TaskGroup | None = None
        self._lock = asyncio.Lock()
        """Serialises job_start/job_cancel/emergency_stop decisions."""

    async def recover(self) -> None:
        """Pick up the job a previous run of the agent left active, or close it."""
        record = self._outbox.job()
        if record is None or not record.active:
            return
        job = self._outbox.job_spec()
        detail = f"the agent restarted while the job was {record.state}"
        if job is not None and record.state is JobStatus.RUNNING:
            try:
                files = await self._fetcher.fetch_all(job.files)
                resumed = await self._driver.resume(job, files, record.last_item)
            except (FetchError, DriverError) as exc:
                log.warning("job %s cannot be resumed: %s", record.key, exc)
                resumed = False
            except Exception:  # a driver bug must not stop the agent from starting
                log.exception("job %s: the driver failed to re-attach", record.key)
                resumed = False
            if resumed:
                self._start(job, resumed=True)
                return
            detail += "; the driver could not re-attach to it"
        log.warning("job %s was %s when the agent stopped: failed", record.key, record.state)
        self._outbox.append(
            record.plan_id,
            record.job_id,
            JobStatus.FAILED,
            reason=JobFailure.AGENT_RESTARTED,
            detail=detail,
        )

    async def run(self) -> None:
        """Host the job tasks until cancelled (a running job is abandoned, not reported)."""
        async with asyncio.TaskGroup() as tg:
            self._tasks = tg
            try:
                async with self._lock:
                    await self.recover()
                if self._link_watch is not None:
                    await self._link_watch.run(self._link_loss_timeout, self._on_link_lost)
                else:
                    await asyncio.Future()
            finally:
                self._tasks = None

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def _start(self, job: JobSpec, *, resumed: bool = False) -> None:
        assert self._tasks is not None
        self._job, self._abort, self._progress = job, None, Progress()
        self._options = parse_job_options(job.extra)
        self._task = self._tasks.create_task(self._run_job(job, resumed), name=f"job {job.key}")

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
            self._outbox.append(job.plan_id, job.job_id, JobStatus.ACCEPTED, spec=job)
            self._start(job)
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

    def _link_loss_timeout(self) -> float | None:
        if not self.busy or self._options.link_loss_action == "continue":
            return None
        return self._options.link_loss_timeout_s

    async def _on_link_lost(self, down_s: float) -> None:
        async with self._lock:
            job, action = self._job, self._options.link_loss_action
            if not self.busy or job is None or action == "continue":
                return
            what = LINK_LOSS_WORDS[action]
            detail = f"broker link lost for {down_s:.0f} s: {what} (link_loss_action {action})"
            log.warning("job %s: %s", job.key, detail)
            stage = {"hold": "holding", "rtl": "returning", "land": "landing"}[action]
            self._outbox.append(
                job.plan_id,
                job.job_id,
                JobStatus.RUNNING,
                progress=msgspec.structs.replace(self._progress, stage=stage, item=None),
                detail=detail,
            )
            await self._abort_job(JobFailure.LINK_LOST, action, detail)

    async def _abort_job(self, reason: JobFailure, action: str | None, detail: str = "") -> None:
        task = self._task
        assert task is not None
        self._abort = (reason, action, detail)
        task.cancel()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await asyncio.wait([task])
        except TimeoutError:
            log.error("job task did not stop within %.0f s", STOP_TIMEOUT_S)

    async def _run_job(self, job: JobSpec, resumed: bool = False) -> None:
        outbox, driver = self._outbox, self._driver

        async def report(progress: Progress) -> None:
            self._progress = progress
            outbox.append(job.plan_id, job.job_id, JobStatus.RUNNING, progress=progress)

        try:
            if resumed:
                outbox.append(
                    job.plan_id,
                    job.job_id,
                    JobStatus.RUNNING,
                    detail="the agent restarted and re-attached to the vehicle",
                )
            else:
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
            reason, action, detail = abort
            if reason is JobFailure.CANCELLED:
                await self._stop_vehicle(action)
                outbox.append(job.plan_id, job.job_id, JobStatus.CANCELLED, reason=reason)
            elif reason is JobFailure.LINK_LOST:
                stopped = await self._stop_vehicle(action)
                detail += (
                    ": the vehicle acknowledged" if stopped else ": the vehicle did not answer"
                )
                self._fail(job, reason, detail)
            else:
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

    async def _stop_vehicle(self, action: str | None) -> bool:
        try:
            await self._driver.stop(action)
        except Exception:
            log.exception("the driver failed to stop the vehicle")
            return False
        return True

    def _fail(self, job: JobSpec, reason: JobFailure, detail: str) -> None:
        log.warning("job %s failed: %s (%s)", job.key, reason, detail)
        self._outbox.append(job.plan_id, job.job_id, JobStatus.FAILED, reason=reason, detail=detail)
