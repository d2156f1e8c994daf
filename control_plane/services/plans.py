"""Plans: a mission for one node, as ``files`` (key -> blob id) and ``extra`` (key -> text)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import msgspec
from tortoise.transactions import in_transaction

from control_plane.db.models import Blob, Job, Node, Plan, PlanFile
from control_plane.errors import Conflict, InvalidInput, NotFound
from control_plane.services import limits
from control_plane.services.blob_store import BlobStore
from control_plane.services.ids import MAX_ID, Id
from control_plane.services.listing_cache import PLAN_WRITES
from control_plane.services.mission_files import check_mission_files
from control_plane.services.plain_select import PlainSelect, json_value, utc_datetime
from control_plane.services.principal import Principal
from shared.enums import ACTIVE_JOB_STATUSES
from shared.job_options import JobOptionError, parse_job_options
from shared.mission.feasibility import PX4_DEFAULTS, MissionLimits

Key = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.FILE_KEY)]
Text = Annotated[str, msgspec.Meta(max_length=65_536)]
FileMap = Annotated[dict[Key, str], msgspec.Meta(max_length=100)]
ExtraMap = Annotated[dict[Key, Text], msgspec.Meta(max_length=200)]


class PlanOut(msgspec.Struct, frozen=True):
    """A plan in the seed's shape, plus its times."""

    id: int
    name: str
    description: str
    node_id: int
    files: dict[str, str]
    extra: dict[str, str]
    created_at: datetime
    updated_at: datetime


class PlanWrite(msgspec.Struct, frozen=True):
    """Body of plan create and replace (``PUT`` replaces the whole plan, as in the seed)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=limits.PLAN_NAME)]
    node_id: Id
    description: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    files: FileMap = {}
    extra: ExtraMap = {}


def validate_extra(extra: dict[str, str]) -> None:
    """Check the well-known keys of a plan's or job's ``extra`` with the agent's own
    definition (``shared.job_options``), so a stored value is one the agent flies."""
    try:
        parse_job_options(extra)
    except JobOptionError as exc:
        raise InvalidInput(str(exc), location=exc.location) from None


async def parse_file_ids(principal: Principal, files: dict[str, str], where: str) -> dict[str, int]:
    """Turn ``{key: "blob id"}`` into ints, checking each names a blob of the caller's group."""
    parsed: dict[str, int] = {}
    for key, value in files.items():
        if not value.isascii() or not value.isdigit() or not 0 < int(value[:12]) <= MAX_ID:
            raise InvalidInput(
                f"{where}.{key} must be a blob id (digits), not {value[:40]!r}",
                location=f"{where}.{key}",
            )
        parsed[key] = int(value)
    if parsed:
        rows = await Blob.filter(
            id__in=list(set(parsed.values())), group_id=principal.group_id
        ).values_list("id", flat=True)
        found = set(cast(list[int], rows))
        for key, blob_id in parsed.items():
            if blob_id not in found:
                raise InvalidInput(f"{where}.{key}: no blob {blob_id}", location=f"{where}.{key}")
    return parsed


async def _check_node(principal: Principal, node_id: int) -> None:
    if not await Node.exists(id=node_id, group_id=principal.group_id):
        raise InvalidInput(f"no node {node_id}", location="node_id")


async def _files_of(plan_ids: list[int]) -> dict[int, dict[str, str]]:
    files: dict[int, dict[str, str]] = {pid: {} for pid in plan_ids}
    if plan_ids:
        rows = (
            await PlanFile.filter(plan_id__in=plan_ids)
            .order_by("id")
            .values_list("plan_id", "key", "blob_id")
        )
        for plan_id, key, blob_id in rows:
            files[plan_id][key] = str(blob_id)
    return files


def _out(plan: Plan, files: dict[str, str]) -> PlanOut:
    return PlanOut(
        id=plan.id,
        name=plan.name,
        description=plan.description,
        node_id=plan.node_id,
        files=files,
        extra=plan.extra,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


async def own_plan(principal: Principal, plan_id: int) -> Plan:
    """The plan if it belongs to the caller's group, else ``NotFound``."""
    plan = await Plan.get_or_none(id=plan_id, group_id=principal.group_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}")
    return plan


_PLAN_LIST = PlainSelect(
    lambda: (
        Plan.filter(group_id=0)
        .order_by("id", "files__id")
        .values(
            "id",
            "name",
            "description",
            "node_id",
            "extra",
            "created_at",
            "updated_at",
            "files__key",
            "files__blob_id",
        )
    )
)
"""A group's plans joined with their files (none: one row of NULL file fields)."""


async def list_plans(principal: Principal) -> list[PlanOut]:
    """Every plan of the caller's group, in one query of plain rows (see ``plain_select``)."""
    result: list[PlanOut] = []
    plan: PlanOut | None = None
    for row in await _PLAN_LIST.rows(principal.group_id):
        plan_id, name, description, node_id, extra, created_at, updated_at, key, blob_id = row
        if plan is None or plan.id != plan_id:
            plan = PlanOut(
                id=plan_id,
                name=name,
                description=description,
                node_id=node_id,
                files={},
                extra=json_value(extra),
                created_at=utc_datetime(created_at),
                updated_at=utc_datetime(updated_at),
            )
            result.append(plan)
        if key is not None:
            plan.files[key] = str(blob_id)
    return result


async def get_plan(principal: Principal, plan_id: int) -> PlanOut:
    plan = await own_plan(principal, plan_id)
    return _out(plan, (await _files_of([plan.id]))[plan.id])


async def check_plan(
    principal: Principal,
    data: PlanWrite,
    *,
    store: BlobStore,
    limits: MissionLimits = PX4_DEFAULTS,
) -> dict[str, int]:
    """Validate a plan body against the caller's group; answers the parsed blob ids.

    The ``mission``/``waypoint`` file is read from the blob ``store``, parsed and checked
    as PX4 would take it (``limits``, the plan's ``extra``): a file that cannot be flown is
    refused with its location (``files.mission: mission.items[3]...``).
    """
    validate_extra(data.extra)
    await _check_node(principal, data.node_id)
    file_ids = await parse_file_ids(principal, data.files, "files")
    await check_mission_files(store, file_ids, extra=data.extra, limits=limits)
    return file_ids


async def create_plan(
    principal: Principal,
    data: PlanWrite,
    *,
    store: BlobStore,
    limits: MissionLimits = PX4_DEFAULTS,
) -> PlanOut:
    """Create a plan, its mission file checked first (see ``check_plan``)."""
    try:
        async with in_transaction():
            file_ids = await check_plan(principal, data, store=store, limits=limits)
            plan = await Plan.create(
                group_id=principal.group_id,
                node_id=data.node_id,
                name=data.name,
                description=data.description,
                extra=data.extra,
            )
            await _write_files(plan, file_ids)
    finally:
        PLAN_WRITES.bump()
    return _out(plan, {k: str(v) for k, v in file_ids.items()})


async def replace_plan(
    principal: Principal,
    plan_id: int,
    data: PlanWrite,
    *,
    store: BlobStore,
    limits: MissionLimits = PX4_DEFAULTS,
) -> PlanOut:
    """Replace a whole plan, its mission file checked first."""
    try:
        async with in_transaction():
            plan = await own_plan(principal, plan_id)
            file_ids = await check_plan(principal, data, store=store, limits=limits)
            plan.name, plan.description = data.name, data.description
            plan.node_id, plan.extra = data.node_id, data.extra
            await plan.save()
            await PlanFile.filter(plan_id=plan.id).delete()
            await _write_files(plan, file_ids)
    finally:
        PLAN_WRITES.bump()
    return _out(plan, {k: str(v) for k, v in file_ids.items()})


async def delete_plan(principal: Principal, plan_id: int) -> PlanOut:
    """Delete a plan with its finished jobs; refused while a job of it is active."""
    try:
        async with in_transaction():
            out = await get_plan(principal, plan_id)
            if await Job.exists(plan_id=plan_id, status__in=list(ACTIVE_JOB_STATUSES)):
                raise Conflict(f"plan {plan_id} has an active job: cancel it first")
            await Plan.filter(id=plan_id).delete()
    finally:
        PLAN_WRITES.bump()
    return out


async def _write_files(plan: Plan, file_ids: dict[str, int]) -> None:
    if file_ids:
        await PlanFile.bulk_create(
            [PlanFile(plan_id=plan.id, key=k, blob_id=v) for k, v in file_ids.items()]
        )
