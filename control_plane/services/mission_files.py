"""The mission file of a plan or job, checked when it is written (DESIGN §6).

A plan whose ``mission`` or ``waypoint`` blob is not a flyable QGroundControl .plan or
QGC WPL 110 file is refused at create/update with a 422 that names the key, the item and
the field, instead of failing later on the drone. "Flyable" is twice checked: the file
must parse (``shared.mission.parse``) and PX4 must take the mission
(``shared.mission.feasibility``: its upload and feasibility rules, the plan's own
geofence, with the limits of the control plane's settings, ``GOSD_MISSION_*``). The home
is the file's (the agent checks again with the vehicle's). A job is checked again where
it changes the outcome: its own mission file, or an ``extra`` that changes what the check
decides (``endless_loops``, from the plan's or the job's ``extra``).

The blob's bytes are read from the store up to the parser's size cap (a larger blob is
refused without being read whole), and parsed and checked on a worker thread: a 4 MiB
file takes ~150 ms, too long to hold the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import aiofiles

from control_plane.db.models import Blob
from control_plane.errors import InvalidInput
from control_plane.services.blob_store import BlobStore, StagedFile
from shared.job_options import JobOptionError, parse_job_options
from shared.mission import MISSION_FILE_KEYS, MissionFile, MissionFileError, parse_mission_file
from shared.mission.feasibility import PX4_DEFAULTS, MissionLimits, check_feasible
from shared.mission.items import MAX_FILE_BYTES


async def read_capped(store: BlobStore, sha256: str) -> bytes:
    """A blob's bytes, at most one byte past the parser's cap (enough to be refused)."""
    async with aiofiles.open(store.path_for(sha256), "rb") as f:
        return await f.read(MAX_FILE_BYTES + 1)


def endless_loops(extra: Mapping[str, str]) -> bool:
    """Whether ``extra`` lets a mission loop for ever (``endless_loops=allow``); a bad value
    is refused elsewhere (``validate_extra``) and allows nothing here."""
    try:
        return parse_job_options(extra).endless_loops == "allow"
    except JobOptionError:
        return False


def _check(
    data: bytes,
    filename: str,
    where: str,
    what: str,
    extra: Mapping[str, str],
    limits: MissionLimits,
) -> MissionFile:
    try:
        parsed = parse_mission_file(data, filename=filename)
        check_feasible(parsed, limits, endless_loops=endless_loops(extra))
    except MissionFileError as exc:
        raise InvalidInput(
            f"{where} ({what}): {exc}", location=f"{where}: {exc.location}"
        ) from None
    return parsed


async def check_staged_missions(
    files: Sequence[tuple[str, StagedFile]],
    *,
    extra: Mapping[str, str] | None = None,
    limits: MissionLimits = PX4_DEFAULTS,
) -> None:
    """Check the ``mission``/``waypoint`` parts of an upload before they become blobs, so a
    refused form leaves nothing behind; ``extra`` is what the job will fly with."""
    for key, staged in files:
        if key in MISSION_FILE_KEYS:
            async with aiofiles.open(staged.path, "rb") as f:
                data = await f.read(MAX_FILE_BYTES + 1)
            await asyncio.to_thread(
                _check, data, staged.filename, f"files.{key}", "upload", extra or {}, limits
            )


async def check_mission_files(
    store: BlobStore,
    file_ids: Mapping[str, int],
    *,
    where: str = "files",
    extra: Mapping[str, str] | None = None,
    limits: MissionLimits = PX4_DEFAULTS,
) -> dict[str, MissionFile]:
    """Parse and check each well-known mission key's blob; ``InvalidInput`` says where it
    is wrong. ``extra`` is the plan's (or the job's, over the plan's)."""
    parsed: dict[str, MissionFile] = {}
    for key in MISSION_FILE_KEYS:
        blob_id = file_ids.get(key)
        if blob_id is None:
            continue
        blob = await Blob.get(id=blob_id)
        data = await read_capped(store, blob.sha256)
        parsed[key] = await asyncio.to_thread(
            _check, data, blob.filename, f"{where}.{key}", f"blob {blob_id}", extra or {}, limits
        )
    return parsed


async def check_job_missions(
    store: BlobStore,
    *,
    plan_files: Mapping[str, int],
    plan_extra: Mapping[str, str],
    job_files: Mapping[str, int],
    job_extra: Mapping[str, str],
    staged: Sequence[tuple[str, StagedFile]] = (),
    limits: MissionLimits = PX4_DEFAULTS,
) -> None:
    """A job flies its plan's files overlaid with its own, and the plan's ``extra``
    overlaid with its own (as dispatch sends it). Check what the job changes: its own
    mission files (stored, or ``staged`` parts of a form not stored yet), and the plan's
    when the job's ``extra`` changes what the check decides."""
    extra = {**plan_extra, **job_extra}
    await check_staged_missions(staged, extra=extra, limits=limits)
    own = {key: blob for key, blob in job_files.items() if key in MISSION_FILE_KEYS}
    if endless_loops(extra) != endless_loops(plan_extra):
        mine = own.keys() | {key for key, _ in staged}
        own |= {k: v for k, v in plan_files.items() if k in MISSION_FILE_KEYS and k not in mine}
    await check_mission_files(store, own, extra=extra, limits=limits)
