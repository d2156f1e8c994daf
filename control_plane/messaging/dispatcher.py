"""Job dispatch to nodes (DESIGN §4.2): per-node FIFO, one active job per node.

The database decides what to send (``services.dispatch``); this module decides when:
a job was created, a node came online, a job ended, or the periodic sweep found a job
waiting. Each node has a lock, so its jobs go out one at a time, in order; a second
replica is kept in step by the row lock ``next_delivery`` takes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from control_plane.errors import Conflict, NodeUnreachable
from control_plane.messaging.bridge import MqttBridge, NotConnected
from control_plane.messaging.node_state import NodeStates
from control_plane.messaging.rpc import NodeOffline, RpcClient, RpcFailed, RpcTimeout
from control_plane.messaging.tasks import cancel_all
from control_plane.services.container import Services
from control_plane.services.jobs import JobOut
from control_plane.services.principal import Principal
from shared import topics
from shared.codec import encode
from shared.enums import JobStatus
from shared.errors import JobFailure, RpcErrorCode
from shared.messages import JobEvent, PlanRunning, Progress

log = logging.getLogger(__name__)

CANCEL_WAIT_S = 5.0
"""How long a cancel or emergency stop waits for the agent to report the job ended."""


class Dispatcher:
    def __init__(
        self,
        services: Services,
        states: NodeStates,
        bridge: MqttBridge,
        rpc: RpcClient,
        *,
        rpc_timeout_s: float,
        queue_timeout_s: float,
    ) -> None:
        self._services = services
        self._states = states
        self._bridge = bridge
        self._rpc = rpc
        self._rpc_timeout_s = rpc_timeout_s
        self._queue_timeout_s = queue_timeout_s
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[None]] = set()
        self._kicked: set[int] = set()
        self._ended: defaultdict[int, list[asyncio.Future[JobOut]]] = defaultdict(list)
        self._events: asyncio.Queue[tuple[int, JobEvent]] = asyncio.Queue()

    # -- triggers ----------------------------------------------------------------

    def kick(self, node_id: int) -> None:
        """Look for a job to send to the node soon (coalesced: one look at a time)."""
        if node_id in self._kicked:
            return
        self._kicked.add(node_id)
        self._spawn(self._deliver(node_id))

    async def job_created(self, job: JobOut) -> None:
        await self.publish_running(job.plan_id)
        self.kick(job.node_id)

    def node_status_changed(self, node_id: int) -> None:
        if self._states.is_online(node_id):
            self.kick(node_id)

    def event_received(self, node_id: int, event: JobEvent) -> None:
        """Queue an agent's event; one worker stores them in arrival order."""
        self._events.put_nowait((node_id, event))

    # -- long-running tasks --------------------------------------------------------

    async def run_events(self) -> None:
        while True:
            node_id, event = await self._events.get()
            try:
                await self._record(node_id, event)
            except Exception:
                log.exception("failed to record event %s of node %s", event.seq, node_id)

    async def run_sweeps(self, interval_s: float) -> None:
        """Fail jobs that waited too long for an offline node; retry the others."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sweep()
            except Exception:
                log.exception("dispatch sweep failed")

    async def sweep(self) -> None:
        waiting = await self._services.dispatch.nodes_with_waiting_jobs()
        offline = self._states.offline_nodes(waiting)
        for job in await self._services.dispatch.expire_waiting(offline, self._queue_timeout_s):
            log.info("job %s/%s failed: node %s offline", job.plan_id, job.job_id, job.node_id)
            await self._ended_job(job)
        for node_id in waiting:
            if node_id not in offline:
                self.kick(node_id)

    async def close(self) -> None:
        await cancel_all(self._tasks)

    # -- user actions --------------------------------------------------------------

    async def cancel(self, principal: Principal, plan_id: int, job_id: int | None) -> JobOut:
        """Cancel a job: at once when it waits, through its agent when on the node."""
        job = await self._services.jobs.cancellable(principal, plan_id, job_id)
        detail = f"cancelled by {principal.name}"
        if job.status == JobStatus.QUEUED:
            cancelled = await self._services.dispatch.cancel_locally(
                job.id, JobFailure.CANCELLED, detail
            )
            if cancelled is not None:
                await self._ended_job(cancelled)
                return cancelled
        params = {"plan_id": job.plan_id, "job_id": job.job_id}
        return await self._stop_on_node(job, "job_cancel", params, detail)

    async def emergency_stop(self, principal: Principal, plan_id: int) -> JobOut:
        """Abort what the plan's node runs and put the vehicle in its safe action now."""
        job = await self._services.jobs.cancellable(principal, plan_id, None)
        detail = f"emergency stop by {principal.name}"
        return await self._stop_on_node(job, "emergency_stop", {}, detail)

    async def _stop_on_node(
        self, job: JobOut, method: str, params: dict[str, Any], detail: str
    ) -> JobOut:
        ended = self._wait_ended(job.id)
        try:
            await self._rpc.call(job.node_id, method, params, timeout_s=self._rpc_timeout_s)
        except (RpcFailed, RpcTimeout) as exc:
            unknown = isinstance(exc, RpcFailed) and exc.code == RpcErrorCode.UNKNOWN_JOB
            never_arrived = job.status in (JobStatus.QUEUED, JobStatus.DISPATCHED)
            if unknown or (isinstance(exc, RpcTimeout) and never_arrived):
                # The agent does not have the job: nothing runs, so it ends here.
                cancelled = await self._services.dispatch.cancel_locally(
                    job.id, JobFailure.CANCELLED, detail
                )
                if cancelled is not None:
                    await self._ended_job(cancelled)
                    return cancelled
                self._forget_wait(job.id, ended)
                return await self._services.jobs.by_pk(job.id)
            self._forget_wait(job.id, ended)
            if isinstance(exc, RpcFailed):
                raise Conflict(
                    f"node {job.node_id} refused {method}: {exc.message}", rpc_code=exc.code
                ) from exc
            if isinstance(exc, NodeOffline):
                raise exc.error("; the job goes on") from exc
            raise NodeUnreachable(
                f"node {job.node_id} did not answer {method}; the job goes on",
                node_id=job.node_id,
            ) from exc
        try:
            return await asyncio.wait_for(ended, CANCEL_WAIT_S)
        except TimeoutError:
            self._forget_wait(job.id, ended)
            return await self._services.jobs.by_pk(job.id)

    # -- internals -------------------------------------------------------------------

    async def _deliver(self, node_id: int) -> None:
        async with self._locks[node_id]:
            self._kicked.discard(node_id)
            if not self._states.is_online(node_id):
                return
            delivery = await self._services.dispatch.next_delivery(node_id)
            if delivery is None:
                return
            job = delivery.job
            await self._publish_running(job.plan_id, job)
            try:
                await self._rpc.call(
                    node_id,
                    "job_start",
                    {"job": delivery.spec},
                    request_id=delivery.request_id,
                    timeout_s=self._rpc_timeout_s,
                )
            except RpcTimeout:
                log.info("node %s did not take job %s/%s yet", node_id, job.plan_id, job.job_id)
            except RpcFailed as exc:
                if exc.code == RpcErrorCode.BUSY:
                    log.info("node %s is busy; job %s/%s waits", node_id, job.plan_id, job.job_id)
                    return
                rejected = await self._services.dispatch.reject(
                    job.id, JobFailure.REJECTED, exc.message
                )
                if rejected is not None:
                    await self._ended_job(rejected)

    async def _record(self, node_id: int, event: JobEvent) -> None:
        recorded = await self._services.dispatch.record(node_id, event)
        try:
            await self._bridge.publish(topics.events_ack(node_id), encode(recorded.ack), qos=1)
        except NotConnected:
            log.info(
                "cannot ack event %s of node %s now; the agent will resend", event.seq, node_id
            )
        job = recorded.job
        if job is None:
            return
        if JobStatus(job.status).is_terminal:
            await self._ended_job(job)
        else:
            # A job its agent reports on is its plan's active one (the node runs the plan's
            # jobs in order): no need to ask the database which that is.
            await self._publish_running(job.plan_id, job)

    async def _ended_job(self, job: JobOut) -> None:
        for future in self._ended.pop(job.id, []):
            if not future.done():
                future.set_result(job)
        await self.publish_running(job.plan_id)
        self.kick(job.node_id)

    async def publish_running(self, plan_id: int) -> None:
        """Keep the retained ``plans/{id}/running`` equal to the plan's active job."""
        await self._publish_running(plan_id, await self._services.jobs.active_of_plan(plan_id))

    async def _publish_running(self, plan_id: int, job: JobOut | None) -> None:
        message = PlanRunning()
        if job is not None:
            message = PlanRunning(
                job_id=job.job_id,
                node_id=job.node_id,
                status=job.status,
                progress=Progress(**job.progress) if job.progress else None,
                started_at=job.started_at.timestamp() if job.started_at else None,
            )
        try:
            await self._bridge.publish(
                topics.plan_running(plan_id), encode(message), qos=1, retain=True
            )
        except NotConnected:
            log.info("cannot publish the running job of plan %s now", plan_id)

    def _wait_ended(self, job_pk: int) -> asyncio.Future[JobOut]:
        future: asyncio.Future[JobOut] = asyncio.get_running_loop().create_future()
        self._ended[job_pk].append(future)
        return future

    def _forget_wait(self, job_pk: int, future: asyncio.Future[JobOut]) -> None:
        waiters = self._ended.get(job_pk, [])
        if future in waiters:
            waiters.remove(future)
        future.cancel()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dispatch task failed", exc_info=task.exception())
