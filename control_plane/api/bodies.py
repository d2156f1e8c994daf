"""Reading request bodies that may come as JSON, urlencoded or multipart forms.

Handlers whose route also accepts large multipart uploads cannot let Litestar read a
JSON body (it would buffer up to the upload limit), so JSON is read here with its own
small cap and decoded by msgspec into the handler's Struct.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import ClientException, HTTPException

from control_plane.errors import InvalidInput, PayloadTooLarge
from control_plane.services import limits

MAX_JSON_BYTES = 1024 * 1024

T = TypeVar("T")


class UnsupportedMediaType(HTTPException):
    status_code = 415


async def read_json(
    request: Request[Any, Any, Any], type_: type[T], *, empty: T | None = None
) -> T:
    """Decode a JSON body of at most 1 MiB into ``type_``; ``empty`` answers an empty body.

    A body that is not JSON at all is a 400 (``bad_request``); JSON whose values do not
    fit ``type_`` is a 422 (``invalid_input``, ``location`` naming the field), as the
    same mistake in a multipart form is.
    """
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise PayloadTooLarge(f"a JSON body may have at most {MAX_JSON_BYTES} bytes")
    if not body.strip():
        if empty is not None:
            return empty
        raise ClientException(f"the body is empty: {_what_to_send(type_)}")
    media = media_type(request)
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(
            f"send this body as application/json (or multipart/form-data), not {media or 'untyped'}"
        )
    try:
        value = msgspec.json.decode(bytes(body), type=type_)
    except msgspec.ValidationError as exc:
        raise invalid_input(exc) from None
    except msgspec.DecodeError as exc:
        raise ClientException(f"the body is not valid JSON: {exc}") from None
    check_storable_text(msgspec.to_builtins(value))
    return value


def check_storable_text(value: object, path: str = "") -> None:
    """Refuse text the database cannot store (a NUL character), naming where it is."""
    location = limits.nul_location(value, path)
    if location is not None:
        where = f"{location}: " if location else ""
        raise InvalidInput(
            f"{where}text may not contain the NUL character (U+0000)", location=location or None
        )


def media_type(request: Request[Any, Any, Any]) -> str:
    return request.content_type[0]


def invalid_input(exc: msgspec.ValidationError) -> InvalidInput:
    """msgspec's message (``Expected ... - at `$.files.mission```) with the field as
    ``location`` (``files.mission``); the body as a whole has no location."""
    message, _, path = str(exc).partition(" - at `$")
    location = path.rstrip("`").lstrip(".") or None
    return InvalidInput(f"{location}: {message}" if location else message, location=location)


def _what_to_send(type_: type) -> str:
    """``send a JSON object with name and node_id`` for a Struct with those required fields."""
    required = [f.encode_name for f in msgspec.structs.fields(type_) if f.required]
    if not required:
        return "send a JSON object"
    names = ", ".join(required[:-1]) + (" and " if len(required) > 1 else "") + required[-1]
    return f"send a JSON object with {names}"
