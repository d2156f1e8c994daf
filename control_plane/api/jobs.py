"""Jobs: runs of a plan, their list, cancel and emergency stop."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath

from control_plane.api.auth import CallDep
from control_plane.api.bodies import UnsupportedMediaType, media_type, read_json
from control_plane.api.multipart import read_upload_form
from control_plane.api.openapi_docs import BINARY, documented, struct_schema
from control_plane.api.params import PathId
from control_plane.errors import Conflict, InvalidInput, NodeUnreachable, NotFound
from control_plane.services.jobs import JobEventOut, JobOut
from control_plane.services.plans import ExtraMap, FileMap, own_plan, validate_extra


class JobInputs(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Optional inputs of one run: blob ids and text, on top of the plan's own."""

    files: FileMap = {}
    extra: ExtraMap = {}


JOB_FORM = Schema(
    type=OpenAPIType.OBJECT,
    additional_properties=Schema(one_of=[Schema(type=OpenAPIType.STRING), BINARY]),
    description="File parts become the job's ``files``; text fields its ``extra``.",
)


class JobsController(Controller):
    path = "/api/v2/plans/{plan_id:int}"
    tags = ["jobs"]

    @post(
        "/jobs",
        operation_id="create_job",
        summary="Run a plan",
        **documented(
            NotFound,
            InvalidInput,
            UnsupportedMediaType,
            body={"application/json": struct_schema(JobInputs), "multipart/form-data": JOB_FORM},
            body_required=False,
        ),
    )
    async def create_job(
        self,
        request: Request[Any, Any, Any],
        call: CallDep,
        plan_id: FromPath[PathId],
    ) -> JobOut:
        """Queue a run of the plan; it goes to the plan's node as soon as the node is
        online and free. The body is optional: JSON ``JobInputs``, or a multipart form
        whose file parts become the job's ``files`` and text fields its ``extra``."""
        if media_type(request) == "multipart/form-data":
            plan = await own_plan(call.principal, plan_id)
            form = await read_upload_form(request, call.services.blobs.store)
            try:
                extra = form.text()
                # Before any blob is stored, so a refused form adds none.
                validate_extra(extra)
                await call.services.jobs.check_inputs(plan, extra=extra, staged=form.files)
                blobs, jobs = call.services.blobs, call.services.jobs
                files = await blobs.create(call.principal, form.files) if form.files else {}
                job = await jobs.create(call.principal, plan_id, files=files, extra=extra)
            finally:
                await form.discard()
        else:
            inputs = await read_json(request, JobInputs, empty=JobInputs())
            job = await call.services.jobs.create(
                call.principal, plan_id, files=inputs.files, extra=inputs.extra
            )
        await call.messaging.dispatcher.job_created(job)
        return job

    @get(
        "/jobs",
        operation_id="list_jobs",
        summary="List the runs of a plan",
        **documented(NotFound),
    )
    async def list_jobs(self, call: CallDep, plan_id: FromPath[PathId]) -> list[JobOut]:
        """Every run of the plan, oldest first."""
        return await call.services.jobs.list(call.principal, plan_id)

    @get(
        "/jobs/{job_id:int}",
        operation_id="get_job",
        summary="Get a run",
        **documented(NotFound),
    )
    async def get_job(
        self,
        call: CallDep,
        plan_id: FromPath[PathId],
        job_id: FromPath[PathId],
    ) -> JobOut:
        """One run, by its run number within the plan."""
        return await call.services.jobs.get(call.principal, plan_id, job_id)

    @post(
        "/jobs/{job_id:int}/cancel",
        operation_id="cancel_job",
        status_code=200,
        summary="Cancel a run",
        **documented(NotFound, Conflict, NodeUnreachable),
    )
    async def cancel_job(
        self,
        call: CallDep,
        plan_id: FromPath[PathId],
        job_id: FromPath[PathId],
    ) -> JobOut:
        """Cancel that run; 409 when it has ended already.

        A waiting run is cancelled at once. A run on its node is cancelled by the node's
        agent (``job_cancel``): the answer comes when the agent reports it ended (or after
        a few seconds, still running); 503 when the node does not answer."""
        return await call.messaging.dispatcher.cancel(call.principal, plan_id, job_id)

    @post(
        "/jobs/{job_id:int}/resume",
        operation_id="resume_job",
        summary="Fly the rest of a run that ended early",
        **documented(NotFound, Conflict),
    )
    async def resume_job(
        self,
        call: CallDep,
        plan_id: FromPath[PathId],
        job_id: FromPath[PathId],
    ) -> JobOut:
        """Queue a new run of the plan that flies the rest of run ``job_id``'s mission: from
        the item after the last one it reached (``last_item``) to the end, after the same
        preflight, with the speed and camera settings the items before it made applied
        again. The new run's ``resume_of`` names the run it resumes and its
        ``extra.resume_from`` the item it starts with; it flies the same mission file.

        409 when that run is still active, succeeded, reached the end, was resumed
        already, or stopped inside a section a DO_JUMP repeats (the message says which)."""
        job = await call.services.jobs.resume(call.principal, plan_id, job_id)
        await call.messaging.dispatcher.job_created(job)
        return job

    @post(
        "/jobs/cancel",
        operation_id="cancel_active_job",
        status_code=200,
        summary="Cancel the active run",
        **documented(NotFound, Conflict, NodeUnreachable),
    )
    async def cancel_active_job(self, call: CallDep, plan_id: FromPath[PathId]) -> JobOut:
        """Cancel the plan's active run (the form the seed's own example uses)."""
        return await call.messaging.dispatcher.cancel(call.principal, plan_id, None)

    @delete(
        "/jobs/running",
        operation_id="stop_running_job",
        status_code=200,
        summary="Emergency stop",
        **documented(NotFound, Conflict, NodeUnreachable),
    )
    async def stop_running_job(self, call: CallDep, plan_id: FromPath[PathId]) -> JobOut:
        """Emergency stop: the node aborts what it runs and puts the vehicle in its safe
        action now (``emergency_stop``); 503 when the node does not answer."""
        return await call.messaging.dispatcher.emergency_stop(call.principal, plan_id)

    @get(
        "/jobs/{job_id:int}/events",
        operation_id="list_job_events",
        summary="A run's history",
        **documented(NotFound),
    )
    async def list_job_events(
        self,
        call: CallDep,
        plan_id: FromPath[PathId],
        job_id: FromPath[PathId],
    ) -> list[JobEventOut]:
        """Every step of the run in order: the control plane's own (queued, dispatched,
        timeouts; no ``seq``) and its agent's events (``seq`` numbered per node)."""
        return await call.services.jobs.events(call.principal, plan_id, job_id)

    @get(
        "/running",
        operation_id="get_running_job",
        summary="The active run",
        **documented(NotFound),
    )
    async def running(self, call: CallDep, plan_id: FromPath[PathId]) -> Response[Any]:
        """The plan's active run, or ``{}`` when none."""
        job = await call.services.jobs.running(call.principal, plan_id)
        return Response(job if job is not None else {})
