"""Blobs: uploaded files that plans and jobs refer to by id."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath

import msgspec
from tortoise.transactions import in_transaction

from control_plane.db.models import Blob, Plan, PlanFile
from control_plane.errors import Conflict, InvalidInput, NotFound
from control_plane.services import limits
from control_plane.services.blob_store import BlobStore, StagedFile
from control_plane.services.mission_files import check_staged_missions, endless_loops
from control_plane.services.principal import Principal
from shared.mission import MISSION_FILE_KEYS
from shared.mission.feasibility import PX4_DEFAULTS, MissionLimits


class BlobOut(msgspec.Struct, frozen=True):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    updated_at: datetime


class BlobReplaced(msgspec.Struct, frozen=True):
    """What ``PUT /api/v2/blobs/:id`` answers, as in the seed."""

    id: int
    filename: str


def _out(b: Blob) -> BlobOut:
    return BlobOut(b.id, b.filename, b.content_type, b.size, b.sha256, b.created_at, b.updated_at)


def clean_filename(raw: str) -> str:
    """The last path component of a client's filename, without control characters.

    A filename is only ever shown back (Content-Disposition); it never becomes a path
    on our disk, but ``../../etc/passwd`` or ``C:\\x\\y`` still deserve to lose their folders.
    """
    name = PureWindowsPath(PurePosixPath(raw).name).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    if name in {"", ".", ".."}:
        name = "file"
    return name[: limits.BLOB_FILENAME]


class BlobService:
    """Registers staged uploads as blobs of a group, and removes them."""

    def __init__(self, store: BlobStore, *, mission_limits: MissionLimits = PX4_DEFAULTS) -> None:
        self.store = store
        self.mission_limits = mission_limits
        """What a plan's mission file replaced through its blob is checked with."""

    async def create(
        self, principal: Principal, files: list[tuple[str, StagedFile]]
    ) -> dict[str, str]:
        """Store uploaded files; answers ``{field: blob id}`` (ids as strings, as the seed)."""
        names = [name for name, _ in files]
        if len(set(names)) != len(names):
            raise InvalidInput("each file must have its own field name", location="multipart")
        result: dict[str, str] = {}
        async with self.store.lock, in_transaction():
            for name, staged in files:
                await staged.commit()
                blob = await Blob.create(
                    group_id=principal.group_id,
                    filename=clean_filename(staged.filename),
                    content_type=staged.content_type,
                    size=staged.size,
                    sha256=staged.sha256,
                )
                result[name] = str(blob.id)
        return result

    async def _own(self, principal: Principal, blob_id: int) -> Blob:
        blob = await Blob.get_or_none(id=blob_id, group_id=principal.group_id)
        if blob is None:
            raise NotFound(f"no blob {blob_id}")
        return blob

    async def get(self, principal: Principal, blob_id: int) -> tuple[BlobOut, Path]:
        """A blob's record and the path of its bytes."""
        blob = await self._own(principal, blob_id)
        return _out(blob), self.store.path_for(blob.sha256)

    async def replace(self, principal: Principal, blob_id: int, staged: StagedFile) -> BlobReplaced:
        """Give a blob new content; plans referring to it see the new file, so a plan's
        mission file must stay one that flies (checked before anything changes)."""
        async with self.store.lock, in_transaction():
            blob = await self._own(principal, blob_id)
            await self._check_as_missions(blob, staged)
            old_sha = blob.sha256
            await staged.commit()
            blob.filename = clean_filename(staged.filename)
            blob.content_type, blob.size, blob.sha256 = (
                staged.content_type,
                staged.size,
                staged.sha256,
            )
            await blob.save()
            await self._remove_if_unused(old_sha)
        return BlobReplaced(blob.id, blob.filename)

    async def _check_as_missions(self, blob: Blob, staged: StagedFile) -> None:
        """The new content must fly as each plan using the blob as its mission file flies
        it (with that plan's ``extra``: ``endless_loops`` may differ between plans)."""
        rows = await PlanFile.filter(blob_id=blob.id, key__in=MISSION_FILE_KEYS).values_list(
            "key", "plan_id"
        )
        extras = {p.id: p.extra for p in await Plan.filter(id__in=[pid for _, pid in rows])}
        done: set[tuple[str, bool]] = set()
        for key, plan_id in sorted(rows):
            extra = extras.get(plan_id, {})
            case = (str(key), endless_loops(extra))
            if case not in done:
                done.add(case)
                await check_staged_missions(
                    [(str(key), staged)], extra=extra, limits=self.mission_limits
                )

    async def delete(self, principal: Principal, blob_id: int) -> BlobOut:
        """Delete a blob and, when no other blob has the same bytes, its file."""
        async with self.store.lock, in_transaction():
            blob = await self._own(principal, blob_id)
            plan_ids = sorted(
                set(await PlanFile.filter(blob_id=blob.id).values_list("plan_id", flat=True))
            )
            if plan_ids:
                raise Conflict(
                    f"blob {blob_id} is used by plans {plan_ids}: change them first",
                    plans=plan_ids,
                )
            await blob.delete()
            await self._remove_if_unused(blob.sha256)
        return _out(blob)

    async def _remove_if_unused(self, sha256: str) -> None:
        if not await Blob.filter(sha256=sha256).exists():
            await self.store.remove(sha256)
