"""Downloading a job's files from the control plane and proving they are the right bytes.

The agent authenticates as its node (``edge_agent.node_token``, DESIGN §7), streams each
blob to disk without holding it in memory, and checks size and sha256 against the job's
``FileRef`` before anything uses it. Verified files are kept under their sha256, so a
file shared by several jobs is downloaded once."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import httpx

from edge_agent.node_token import NodeToken, TokenError
from shared.errors import JobFailure
from shared.messages import FileRef

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024


def is_sha256(text: str) -> bool:
    """64 hex digits (it names a file on disk, so nothing else may pass)."""
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


class FetchError(Exception):
    """A file could not be obtained: ``reason`` is the job's failure reason."""

    def __init__(self, reason: JobFailure, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class FileFetcher:
    """Fetches ``FileRef``s from ``{base_url}/api/v2/blobs/{blob_id}`` into ``files_dir``."""

    def __init__(
        self,
        base_url: str,
        node_id: int,
        secret: str,
        files_dir: Path,
        *,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        token: NodeToken | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self.files_dir = files_dir
        self._timeout = httpx.Timeout(timeout_s)
        self._transport = transport
        self.token = token or NodeToken(base_url, node_id, secret)
        """The node's token (shared with the live video when the supervisor passes one)."""

    async def fetch_all(self, files: Mapping[str, FileRef]) -> dict[str, Path]:
        """Every file of a job, verified; the first failure raises ``FetchError``."""
        if not files:
            return {}
        self.files_dir.mkdir(parents=True, exist_ok=True)
        result: dict[str, Path] = {}
        async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as http:
            for key, ref in files.items():
                result[key] = await self._fetch(http, key, ref)
        return result

    async def _fetch(self, http: httpx.AsyncClient, key: str, ref: FileRef) -> Path:
        if not is_sha256(ref.sha256):
            raise FetchError(JobFailure.INVALID_JOB, f"file {key!r}: sha256 is not 64 hex digits")
        final = self.files_dir / ref.sha256.lower()
        if final.is_file() and await asyncio.to_thread(_matches, final, ref):
            return final  # downloaded before (by another job) and still intact
        for attempt in range(2):
            token = await self._get_token(http, refresh=attempt > 0)
            try:
                return await self._download(http, token, key, ref, final)
            except _Unauthorized:
                if attempt:
                    raise FetchError(
                        JobFailure.FILE_FETCH_FAILED, f"file {key!r}: the token was refused"
                    ) from None
        raise AssertionError("unreachable")

    async def _get_token(self, http: httpx.AsyncClient, *, refresh: bool) -> str:
        try:
            return await self.token.get(http, refresh=refresh)
        except TokenError as exc:
            raise FetchError(JobFailure.FILE_FETCH_FAILED, str(exc)) from exc

    async def _download(
        self, http: httpx.AsyncClient, token: str, key: str, ref: FileRef, final: Path
    ) -> Path:
        url = f"{self._base_url}/api/v2/blobs/{ref.blob_id}"
        partial = self.files_dir / f".{ref.sha256.lower()}.{secrets.token_hex(4)}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            async with http.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as r:
                if r.status_code == 401:
                    raise _Unauthorized
                if r.status_code != 200:
                    raise FetchError(
                        JobFailure.FILE_FETCH_FAILED, f"file {key!r}: HTTP {r.status_code}"
                    )
                with partial.open("wb") as out:
                    async for chunk in r.aiter_bytes(CHUNK_BYTES):
                        size += len(chunk)
                        if size > ref.size:
                            raise FetchError(
                                JobFailure.CHECKSUM_MISMATCH,
                                f"file {key!r} is larger than its {ref.size} bytes",
                            )
                        digest.update(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            if size != ref.size:
                raise FetchError(
                    JobFailure.CHECKSUM_MISMATCH,
                    f"file {key!r} has {size} bytes, expected {ref.size}",
                )
            if digest.hexdigest() != ref.sha256.lower():
                raise FetchError(
                    JobFailure.CHECKSUM_MISMATCH, f"file {key!r}: sha256 {digest.hexdigest()}"
                )
            partial.replace(final)
            log.info("fetched file %r (%d bytes)", key, size)
            return final
        except httpx.HTTPError as exc:
            raise FetchError(JobFailure.FILE_FETCH_FAILED, f"file {key!r}: {exc}") from exc
        finally:
            partial.unlink(missing_ok=True)


def _matches(path: Path, ref: FileRef) -> bool:
    """Whether the file at ``path`` has the size and sha256 of ``ref`` (reads it whole)."""
    if path.stat().st_size != ref.size:
        return False
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest() == ref.sha256.lower()


class _Unauthorized(Exception):
    """The blob endpoint refused the token (it may have expired): get a new one once."""
