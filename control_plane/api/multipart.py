"""Streaming ``multipart/form-data``: file parts go straight to the blob store.

Litestar's own form parsing spools files to temporary files first; uploads here are
written once, to a staging file in the blob store, hashed on the way, so a 2 GB upload
costs a few MB of memory and one write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

from control_plane.errors import InvalidInput
from control_plane.services.blob_store import BlobStore, StagedFile

MAX_PARTS = 1000
MAX_TEXT_BYTES = 64 * 1024
"""Largest text field; a form's text fields are kept in memory."""


@dataclass
class UploadForm:
    """A parsed form: text fields and staged files, in arrival order."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, StagedFile]] = field(default_factory=list)

    async def discard(self) -> None:
        """Remove every staged file (the request failed or was refused)."""
        for _, staged in self.files:
            await staged.discard()

    def text(self) -> dict[str, str]:
        """Text fields as a dict; a repeated name is an error (it would lose a value)."""
        result: dict[str, str] = {}
        for name, value in self.fields:
            if name in result:
                raise InvalidInput(f"field {name!r} is given twice", location=name)
            result[name] = value
        return result


def is_multipart(request: Request[Any, Any, Any]) -> bool:
    return request.content_type[0] == "multipart/form-data"


async def read_upload_form(request: Request[Any, Any, Any], store: BlobStore) -> UploadForm:
    """Parse a multipart body, staging file parts in ``store``.

    The caller owns the staged files: commit them or call ``UploadForm.discard``.
    Malformed, truncated or oversized input raises; nothing is left behind then.
    """
    media_type, params = request.content_type
    if media_type != "multipart/form-data":
        raise ClientException("the body must be multipart/form-data")
    boundary = params.get("boundary")
    if not boundary:
        raise ClientException("multipart/form-data needs a boundary")
    form = UploadForm()
    try:
        await _parse(request, boundary.encode("latin-1"), store, form)
    except BaseException:
        await form.discard()
        raise
    return form


async def _parse(
    request: Request[Any, Any, Any], boundary: bytes, store: BlobStore, form: UploadForm
) -> None:
    segment: MultipartSegment | None = None
    staged: StagedFile | None = None
    text = bytearray()
    try:
        with PushMultipartParser(boundary, max_segment_count=MAX_PARTS) as parser:
            async for chunk in request.stream():
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        segment = event
                        if segment.filename is not None:
                            staged = store.stage(
                                segment.filename,
                                segment.content_type or "application/octet-stream",
                            )
                            form.files.append((segment.name, staged))
                    elif event:
                        if staged is not None:
                            await staged.write(event)
                        else:
                            text += event
                            if len(text) > MAX_TEXT_BYTES:
                                raise ClientException(
                                    f"text field {segment.name if segment else ''!r} is over "
                                    f"{MAX_TEXT_BYTES} bytes"
                                )
                    else:  # end of a part
                        assert segment is not None
                        if staged is not None:
                            await staged.finish()
                        else:
                            try:
                                value = text.decode(segment.charset or "utf-8")
                            except (UnicodeDecodeError, LookupError):
                                raise ClientException(
                                    f"text field {segment.name!r} is not valid text"
                                ) from None
                            form.fields.append((segment.name, value))
                        segment, staged, text = None, None, bytearray()
            if not parser.closed:
                raise ClientException("the multipart body ended early")
    except ParserLimitReached:
        raise ClientException(f"a form may have at most {MAX_PARTS} parts") from None
    except ParserError as exc:
        raise ClientException(f"malformed multipart body: {exc}") from None
