"""Plans: create (JSON or multipart, as the seed), list, read, replace, delete."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath

from control_plane.api.auth import CallDep, Caller
from control_plane.api.bodies import UnsupportedMediaType, invalid_input, media_type, read_json
from control_plane.api.multipart import read_upload_form
from control_plane.api.openapi_docs import BINARY, documented, struct_schema
from control_plane.api.params import PathId
from control_plane.errors import Conflict, InvalidInput, NotFound
from control_plane.services import plans
from control_plane.services.container import Services
from control_plane.services.mission_files import check_staged_missions
from control_plane.services.plans import PlanOut, PlanWrite
from control_plane.services.principal import Principal

_FORM_FIELDS = {"name", "description", "node_id"}
_TEXT = Schema(type=OpenAPIType.STRING)
PLAN_FORM = Schema(
    type=OpenAPIType.OBJECT,
    properties={"name": _TEXT, "description": _TEXT, "node_id": _TEXT},
    required=["name", "node_id"],
    additional_properties=Schema(one_of=[_TEXT, BINARY]),
    description="File parts become blobs in ``files``; other text fields go to ``extra``.",
)


async def _plan_from_form(
    request: Request[Any, Any, Any], principal: Principal, services: Services
) -> PlanOut:
    """The original's multipart create: name, description and node_id fields; each file
    part becomes a blob under its field name in ``files``; other text fields go to ``extra``."""
    form = await read_upload_form(request, services.blobs.store)
    try:
        text = form.text()
        node_id = text.get("node_id", "")
        if not node_id.isascii() or not node_id.isdigit():
            raise InvalidInput("node_id must be a node id (digits)", location="node_id")
        extra = {k: v for k, v in text.items() if k not in _FORM_FIELDS}
        try:
            data = msgspec.convert(
                {
                    "name": text.get("name", ""),
                    "description": text.get("description", ""),
                    "node_id": int(node_id),
                    "extra": extra,
                },
                PlanWrite,
            )
        except msgspec.ValidationError as exc:
            raise invalid_input(exc) from None
        # Check the plan before storing files, so a refused form leaves no blobs behind.
        store, limits = services.blobs.store, services.mission_limits
        await plans.check_plan(principal, data, store=store, limits=limits)
        await check_staged_missions(form.files, extra=data.extra, limits=limits)
        files = await services.blobs.create(principal, form.files) if form.files else {}
        return await plans.create_plan(
            principal, msgspec.structs.replace(data, files=files), store=store, limits=limits
        )
    finally:
        await form.discard()


class PlansController(Controller):
    path = "/api/v2/plans"
    tags = ["plans"]

    @post(
        "/",
        operation_id="create_plan",
        summary="Create a plan",
        **documented(
            InvalidInput,
            UnsupportedMediaType,
            body={"application/json": struct_schema(PlanWrite), "multipart/form-data": PLAN_FORM},
        ),
    )
    async def create_plan(self, request: Request[Any, Any, Any], call: CallDep) -> PlanOut:
        """Create a plan from JSON (``PlanWrite``) or from a multipart form.

        ``node_id`` must name a node of the caller's group and every value of ``files``
        a blob of the group; 422 says which field is wrong.
        """
        if media_type(request) == "multipart/form-data":
            return await _plan_from_form(request, call.principal, call.services)
        return await plans.create_plan(
            call.principal,
            await read_json(request, PlanWrite),
            store=call.services.blobs.store,
            limits=call.services.mission_limits,
        )

    @get("/", operation_id="list_plans", summary="List plans", **documented())
    async def list_plans(self, call: CallDep) -> list[PlanOut]:
        """Every plan of the caller's group."""
        return await call.services.listings.plans(call.principal)

    @get(
        "/{plan_id:int}",
        operation_id="get_plan",
        summary="Get a plan",
        **documented(NotFound),
    )
    async def get_plan(self, principal: Caller, plan_id: FromPath[PathId]) -> PlanOut:
        """One plan."""
        return await plans.get_plan(principal, plan_id)

    @put(
        "/{plan_id:int}",
        operation_id="replace_plan",
        summary="Replace a plan",
        **documented(
            NotFound,
            InvalidInput,
            UnsupportedMediaType,
            body={"application/json": struct_schema(PlanWrite)},
        ),
    )
    async def replace_plan(
        self,
        request: Request[Any, Any, Any],
        call: CallDep,
        plan_id: FromPath[PathId],
    ) -> PlanOut:
        """Replace a whole plan (the seed has no partial update)."""
        data = await read_json(request, PlanWrite)
        store, limits = call.services.blobs.store, call.services.mission_limits
        return await plans.replace_plan(call.principal, plan_id, data, store=store, limits=limits)

    @delete(
        "/{plan_id:int}",
        operation_id="delete_plan",
        status_code=200,
        summary="Delete a plan",
        **documented(NotFound, Conflict),
    )
    async def delete_plan(self, principal: Caller, plan_id: FromPath[PathId]) -> PlanOut:
        """Delete a plan and its finished jobs; 409 while a job of it is active."""
        return await plans.delete_plan(principal, plan_id)
