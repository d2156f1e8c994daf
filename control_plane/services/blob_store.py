"""Blob bytes on disk, content-addressed by SHA-256.

An upload is streamed into a staging file in the store's own directory while its
digest is computed, flushed to disk, then renamed into place: a crash leaves either
the old state or the new one, never a half-written blob, and no upload is ever held
whole in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from pathlib import Path

import aiofiles
import aiofiles.os

_FLUSH_BYTES = 1024 * 1024


class StagedFile:
    """An upload being written; ``commit`` moves it to its content address."""

    def __init__(self, store: BlobStore, filename: str, content_type: str) -> None:
        self.filename = filename
        self.content_type = content_type
        self.size = 0
        self.sha256 = ""
        self._store = store
        self._path = store.staging_dir / f"{uuid.uuid4().hex}.part"
        self._digest = hashlib.sha256()
        self._buffer = bytearray()
        self._file: aiofiles.threadpool.binary.AsyncBufferedIOBase | None = None
        self._committed = False

    @property
    def path(self) -> Path:
        """Where the staged bytes are until ``commit`` (complete once ``finish`` returned)."""
        return self._path

    async def write(self, chunk: bytes) -> None:
        """Append bytes; they are written to disk in 1 MiB batches."""
        if self._file is None:
            self._file = await aiofiles.open(self._path, "wb")
        self._digest.update(chunk)
        self.size += len(chunk)
        self._buffer += chunk
        if len(self._buffer) >= _FLUSH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        if self._file is None:
            self._file = await aiofiles.open(self._path, "wb")
        if self._buffer:
            await self._file.write(bytes(self._buffer))
            self._buffer.clear()

    async def finish(self) -> None:
        """Close the staging file once every byte has arrived; fixes ``sha256``."""
        await self._flush()
        assert self._file is not None
        await self._file.flush()
        await asyncio.to_thread(os.fsync, self._file.fileno())
        await self._file.close()
        self._file = None
        self.sha256 = self._digest.hexdigest()

    async def commit(self) -> None:
        """Move the finished file to its content address (atomic on one filesystem)."""
        target = self._store.path_for(self.sha256)
        await aiofiles.os.makedirs(target.parent, exist_ok=True)
        await aiofiles.os.replace(self._path, target)
        self._committed = True

    async def discard(self) -> None:
        """Drop the staging file (an aborted or refused upload); safe to call twice."""
        if self._file is not None:
            await self._file.close()
            self._file = None
        if not self._committed:
            with contextlib.suppress(FileNotFoundError):
                await aiofiles.os.remove(self._path)


class BlobStore:
    """Files under ``root``: ``root/ab/cd/abcd...`` per SHA-256, ``root/staging`` for uploads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging_dir = root / "staging"
        self.lock = asyncio.Lock()
        """Held while a blob row and its file are created or removed together, so a
        delete cannot unlink a file that a concurrent upload of the same bytes needs."""

    def prepare(self) -> None:
        """Create the directories and clear staging files left by a crash."""
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.staging_dir.glob("*.part"):
            leftover.unlink(missing_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def stage(self, filename: str, content_type: str) -> StagedFile:
        return StagedFile(self, filename, content_type)

    async def remove(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await aiofiles.os.remove(self.path_for(sha256))
