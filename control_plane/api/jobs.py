"""Jobs: runs of a plan, their list, cancel and emergency stop."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath

from control_plane.api.auth import Caller, ServicesDep
from control_plane.api.bodies import media_type, read_json
from control_plane.api.multipart import read_upload_form
from control_plane.api.openapi_docs import BINARY, documented_body, struct_schema
from control_plane.api.params import PathId
from control_plane.services.jobs import JobOut
from control_plane.services.plans import ExtraMap, FileMap, own_plan


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
        operation_class=documented_body(
            {"application/json": struct_schema(JobInputs), "multipart/form-data": JOB_FORM},
            required=False,
        ),
    )
    async def create_job(
        self,
        request: Request[Any, Any, Any],
        principal: Caller,
        services: ServicesDep,
        plan_id: FromPath[PathId],
    ) -> JobOut:
        """Queue a run of the plan. The body is optional: JSON ``JobInputs``, or a
        multipart form whose file parts become the job's ``files`` and text fields its
        ``extra``."""
        if media_type(request) == "multipart/form-data":
            await own_plan(principal, plan_id)
            form = await read_upload_form(request, services.blobs.store)
            try:
                extra = form.text()
                files = await services.blobs.create(principal, form.files) if form.files else {}
                return await services.jobs.create(principal, plan_id, files=files, extra=extra)
            finally:
                await form.discard()
        inputs = await read_json(request, JobInputs, empty=JobInputs())
        return await services.jobs.create(
            principal, plan_id, files=inputs.files, extra=inputs.extra
        )

    @get("/jobs", operation_id="list_jobs", summary="List the runs of a plan")
    async def list_jobs(
        self, principal: Caller, services: ServicesDep, plan_id: FromPath[PathId]
    ) -> list[JobOut]:
        """Every run of the plan, oldest first."""
        return await services.jobs.list(principal, plan_id)

    @get("/jobs/{job_id:int}", operation_id="get_job", summary="Get a run")
    async def get_job(
        self,
        principal: Caller,
        services: ServicesDep,
        plan_id: FromPath[PathId],
        job_id: FromPath[PathId],
    ) -> JobOut:
        """One run, by its run number within the plan."""
        return await services.jobs.get(principal, plan_id, job_id)

    @post(
        "/jobs/{job_id:int}/cancel",
        operation_id="cancel_job",
        status_code=200,
        summary="Cancel a run",
    )
    async def cancel_job(
        self,
        principal: Caller,
        services: ServicesDep,
        plan_id: FromPath[PathId],
        job_id: FromPath[PathId],
    ) -> JobOut:
        """Cancel that run; 409 when it has ended already."""
        return await services.jobs.cancel(principal, plan_id, job_id)

    @post(
        "/jobs/cancel",
        operation_id="cancel_active_job",
        status_code=200,
        summary="Cancel the active run",
    )
    async def cancel_active_job(
        self, principal: Caller, services: ServicesDep, plan_id: FromPath[PathId]
    ) -> JobOut:
        """Cancel the plan's active run (the form the seed's own example uses)."""
        return await services.jobs.cancel(principal, plan_id, None)

    @delete(
        "/jobs/running", operation_id="stop_running_job", status_code=200, summary="Emergency stop"
    )
    async def stop_running_job(
        self, principal: Caller, services: ServicesDep, plan_id: FromPath[PathId]
    ) -> JobOut:
        """Stop the plan's active run at once (emergency stop)."""
        return await services.jobs.cancel(principal, plan_id, None)

    @get("/running", operation_id="get_running_job", summary="The active run")
    async def running(
        self, principal: Caller, services: ServicesDep, plan_id: FromPath[PathId]
    ) -> Response[Any]:
        """The plan's active run, or ``{}`` when none."""
        job = await services.jobs.running(principal, plan_id)
        return Response(job if job is not None else {})
