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

from control_plane.api.bodies import check_storable_text
from control_plane.errors import InvalidInput
from control_plane.services import limits
from control_plane.services.blob_store import BlobStore, StagedFile

MAX_PARTS = 1000
MAX_TEXT_BYTES = 64 * 1024
"""Largest text field; a form's text fields are kept in memory."""
MAX_NAME_CHARS = limits.FILE_KEY
"""Longest field name: names become the keys of a plan's or job's ``files`` and ``extra``."""
MAX_CONTENT_TYPE_CHARS = limits.BLOB_CONTENT_TYPE
"""Longest content type of a file part: a blob keeps it."""


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
                        _check_segment(segment)
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
                                name = segment.name if segment else ""
                                raise InvalidInput(
                                    f"text field {name!r} is over {MAX_TEXT_BYTES} bytes",
                                    location=name,
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
                            check_storable_text(value, segment.name)
                            form.fields.append((segment.name, value))
                        segment, staged, text = None, None, bytearray()
            if not parser.closed:
                raise ClientException("the multipart body ended early")
    except ParserLimitReached:
        raise ClientException(f"a form may have at most {MAX_PARTS} parts") from None
    except ParserError as exc:
        raise ClientException(f"malformed multipart body: {exc}") from None


def _check_segment(segment: MultipartSegment) -> None:
    """Refuse a part whose name or content type is longer than what is stored of it, or
    holds a character the database cannot store."""
    check_storable_text(segment.name, "multipart")
    check_storable_text(segment.content_type or "", segment.name)
    if len(segment.name) > MAX_NAME_CHARS:
        raise InvalidInput(
            f"a field name may have at most {MAX_NAME_CHARS} characters, "
            f"not {len(segment.name)} ({segment.name[:40]!r}...)",
            location="multipart",
        )
    if segment.content_type is not None and len(segment.content_type) > MAX_CONTENT_TYPE_CHARS:
        raise InvalidInput(
            f"the content type of file {segment.name!r} may have at most "
            f"{MAX_CONTENT_TYPE_CHARS} characters, not {len(segment.content_type)}",
            location=segment.name,
        )
