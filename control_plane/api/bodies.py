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

from control_plane.errors import PayloadTooLarge

MAX_JSON_BYTES = 1024 * 1024

T = TypeVar("T")


class UnsupportedMediaType(HTTPException):
    status_code = 415


async def read_json(
    request: Request[Any, Any, Any], type_: type[T], *, empty: T | None = None
) -> T:
    """Decode a JSON body of at most 1 MiB into ``type_``; ``empty`` answers an empty body."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise PayloadTooLarge(f"a JSON body may have at most {MAX_JSON_BYTES} bytes")
    if not body.strip() and empty is not None:
        return empty
    media = media_type(request)
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(
            f"send this body as application/json (or multipart/form-data), not {media or 'untyped'}"
        )
    try:
        return msgspec.json.decode(bytes(body), type=type_)
    except msgspec.ValidationError as exc:
        raise ClientException(f"invalid body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ClientException(f"the body is not valid JSON: {exc}") from None


def media_type(request: Request[Any, Any, Any]) -> str:
    return request.content_type[0]
