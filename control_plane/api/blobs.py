"""Blobs: upload (multipart, streamed to disk), download (ETag, Range), replace, delete."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiofiles
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Schema
from litestar.params import FromPath
from litestar.response import Stream

from control_plane.api.auth import NODES_ALLOWED, CallDep
from control_plane.api.multipart import read_upload_form
from control_plane.api.openapi_docs import BINARY, FILES_FORM, documented
from control_plane.api.params import PathId
from control_plane.errors import Conflict, InvalidInput, NotFound
from control_plane.services.blobs import BlobOut, BlobReplaced

CHUNK_BYTES = 256 * 1024
DOWNLOAD = {"application/octet-stream": BINARY, "*/*": BINARY}
"""A blob is answered with the content type it was uploaded with (octet-stream if none)."""


def _media(content: dict[str, Schema]) -> dict[str, OpenAPIMediaType]:
    return {media: OpenAPIMediaType(schema=schema) for media, schema in content.items()}


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266, RFC 5987)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class RangeNotSatisfiable(Exception):
    """The requested range lies outside the file (answered 416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One byte range as (start, end inclusive), or None for the whole file.

    Raises ``RangeNotSatisfiable`` when the range lies outside the file.

    Several ranges in one header are answered with the whole file, which RFC 9110 allows.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable
    return start, end


async def _read(path: Any, start: int, length: int) -> AsyncIterator[bytes]:
    async with aiofiles.open(path, "rb") as f:
        await f.seek(start)
        while length > 0:
            chunk = await f.read(min(CHUNK_BYTES, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


class BlobsController(Controller):
    path = "/api/v2/blobs"
    tags = ["blobs"]

    @post(
        "/",
        operation_id="upload_blobs",
        summary="Upload files",
        **documented(InvalidInput, body={"multipart/form-data": FILES_FORM}),
    )
    async def upload(self, request: Request[Any, Any, Any], call: CallDep) -> dict[str, str]:
        """Upload any number of files as multipart parts under any field names.

        Answers ``{"field": "blob id"}``. Files are streamed to disk; a body over the
        upload limit answers 413.
        """
        form = await read_upload_form(request, call.services.blobs.store)
        try:
            if not form.files:
                raise InvalidInput("send at least one file part", location="multipart")
            return await call.services.blobs.create(call.principal, form.files)
        finally:
            await form.discard()

    @get(
        "/{blob_id:int}",
        operation_id="download_blob",
        summary="Download a file",
        opt={NODES_ALLOWED: True},
        **documented(
            NotFound,
            answers=DOWNLOAD,
            more_answers={
                206: OpenAPIResponse(description="The requested range", content=_media(DOWNLOAD)),
                304: OpenAPIResponse(description="Unchanged since the ETag in If-None-Match"),
            },
            more_errors={416: "The requested range lies outside the file"},
        ),
    )
    async def download(
        self,
        request: Request[Any, Any, Any],
        call: CallDep,
        blob_id: FromPath[PathId],
    ) -> Response[Any]:
        """The file's bytes, streamed, with ``ETag`` (its SHA-256) and ``Range`` support."""
        blob, path = await call.services.blobs.get(call.principal, blob_id)
        etag = f'"{blob.sha256}"'
        headers = {
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Content-Disposition": content_disposition(blob.filename),
            "X-Content-SHA256": blob.sha256,
        }
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(b"", status_code=304, headers=headers)
        try:
            span = parse_range(request.headers.get("range"), blob.size)
        except RangeNotSatisfiable:
            headers["Content-Range"] = f"bytes */{blob.size}"
            return Response(
                {
                    "error_message": "the requested range is outside the file",
                    "code": "range_not_satisfiable",
                },
                status_code=416,
                headers=headers,
            )
        if span is None:
            start, end, status = 0, blob.size - 1, 200
        else:
            start, end = span
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
        headers["Content-Length"] = str(end - start + 1)
        return Stream(
            _read(path, start, end - start + 1),
            status_code=status,
            media_type=blob.content_type,
            headers=headers,
        )

    @get(
        "/{blob_id:int}/meta",
        operation_id="get_blob",
        summary="Describe a file",
        opt={NODES_ALLOWED: True},
        **documented(NotFound),
    )
    async def meta(self, call: CallDep, blob_id: FromPath[PathId]) -> BlobOut:
        """Filename, type, size and SHA-256 of a blob."""
        blob, _ = await call.services.blobs.get(call.principal, blob_id)
        return blob

    @put(
        "/{blob_id:int}",
        operation_id="replace_blob",
        summary="Replace a file",
        **documented(NotFound, InvalidInput, body={"multipart/form-data": FILES_FORM}),
    )
    async def replace(
        self,
        request: Request[Any, Any, Any],
        call: CallDep,
        blob_id: FromPath[PathId],
    ) -> BlobReplaced:
        """Replace a blob's content with the first file part of a multipart body."""
        form = await read_upload_form(request, call.services.blobs.store)
        try:
            if not form.files:
                raise InvalidInput("send one file part", location="multipart")
            return await call.services.blobs.replace(call.principal, blob_id, form.files[0][1])
        finally:
            await form.discard()

    @delete(
        "/{blob_id:int}",
        operation_id="delete_blob",
        status_code=200,
        summary="Delete a file",
        **documented(NotFound, Conflict),
    )
    async def delete_blob(self, call: CallDep, blob_id: FromPath[PathId]) -> BlobOut:
        """Delete a blob (and its bytes); 409 naming the plans that still use it."""
        return await call.services.blobs.delete(call.principal, blob_id)
