"""The mission file of a plan, checked when the plan is written (DESIGN §6).

A plan whose ``mission`` or ``waypoint`` blob is not a flyable QGroundControl .plan or
QGC WPL 110 file is refused at create/update with a 422 that names the key, the item and
the field, instead of failing later on the drone. The blob's bytes are read from the store
up to the parser's size cap (a larger blob is refused without being read whole), and
parsed on a worker thread: a 4 MiB file takes ~150 ms, too long to hold the event loop.
"""

from __future__ import annotations

import asyncio

import aiofiles

from control_plane.db.models import Blob
from control_plane.errors import InvalidInput
from control_plane.services.blob_store import BlobStore, StagedFile
from shared.mission import MISSION_FILE_KEYS, MissionFile, MissionFileError, parse_mission_file
from shared.mission.items import MAX_FILE_BYTES


async def read_capped(store: BlobStore, sha256: str) -> bytes:
    """A blob's bytes, at most one byte past the parser's cap (enough to be refused)."""
    async with aiofiles.open(store.path_for(sha256), "rb") as f:
        return await f.read(MAX_FILE_BYTES + 1)


def _parse(data: bytes, filename: str, where: str, what: str) -> MissionFile:
    try:
        return parse_mission_file(data, filename=filename)
    except MissionFileError as exc:
        raise InvalidInput(
            f"{where} ({what}): {exc}", location=f"{where}: {exc.location}"
        ) from None


async def check_staged_missions(files: list[tuple[str, StagedFile]]) -> None:
    """Parse the ``mission``/``waypoint`` parts of an upload before they become blobs, so a
    refused form leaves nothing behind."""
    for key, staged in files:
        if key in MISSION_FILE_KEYS:
            async with aiofiles.open(staged.path, "rb") as f:
                data = await f.read(MAX_FILE_BYTES + 1)
            await asyncio.to_thread(_parse, data, staged.filename, f"files.{key}", "upload")


async def check_mission_files(
    store: BlobStore, file_ids: dict[str, int], *, where: str = "files"
) -> dict[str, MissionFile]:
    """Parse each well-known mission key's blob; ``InvalidInput`` says where it is wrong."""
    parsed: dict[str, MissionFile] = {}
    for key in MISSION_FILE_KEYS:
        blob_id = file_ids.get(key)
        if blob_id is None:
            continue
        blob = await Blob.get(id=blob_id)
        data = await read_capped(store, blob.sha256)
        parsed[key] = await asyncio.to_thread(
            _parse, data, blob.filename, f"{where}.{key}", f"blob {blob_id}"
        )
    return parsed
