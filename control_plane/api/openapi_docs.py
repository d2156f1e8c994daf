"""What the API document says of each handler, declared where the handler is.

Handlers read their bodies themselves (several encodings on one route, streamed
uploads, one JSON reader with one set of error statuses), which Litestar cannot infer
from a ``data`` parameter, and every error leaves in the project's envelope, not in
the ``{status_code, detail, extra}`` shape Litestar documents by default. So each
handler says ``**documented(NotFound, Conflict, body=...)``: the errors it
raises (their statuses come from ``api/errors.py``, the one place that answers them),
what body it takes and, where it is not JSON, what it answers. Errors every route of a
kind shares are added here: 401 and 403 where a token is needed, 422 where there are
parameters, 400 and 413 where there is a body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.exceptions import ClientException, HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)

from control_plane.api.errors import STATUS_MEANINGS, statuses_of
from control_plane.errors import AuthenticationFailed, GosdError, PayloadTooLarge, PermissionDenied

_RENAMED = {
    "additionalProperties": "additional_properties",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minProperties": "min_properties",
    "maxProperties": "max_properties",
    "minItems": "min_items",
    "maxItems": "max_items",
    "anyOf": "any_of",
    "oneOf": "one_of",
    "propertyNames": "property_names",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
}
_DROPPED = {"$defs", "$schema"}


def schema_of(value: dict[str, Any], defs: dict[str, Any] | None = None) -> Schema:
    """A Litestar ``Schema`` from a JSON Schema dict (as msgspec writes them), refs inlined."""
    defs = defs if defs is not None else value.get("$defs", {})
    if "$ref" in value:
        return schema_of(defs[value["$ref"].rsplit("/", 1)[1]], defs)
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        if key in _DROPPED:
            continue
        if key == "type":
            item = [OpenAPIType(t) for t in item] if isinstance(item, list) else OpenAPIType(item)
        elif key == "properties":
            item = {name: schema_of(s, defs) for name, s in item.items()}
        elif key in {"items", "additionalProperties", "propertyNames"} and isinstance(item, dict):
            item = schema_of(item, defs)
        elif key in {"anyOf", "oneOf"}:
            item = [schema_of(s, defs) for s in item]
        kwargs[_RENAMED.get(key, key)] = item
    return Schema(**kwargs)


def struct_schema(type_: type) -> Schema:
    return schema_of(msgspec.json.schema(type_))


BINARY = Schema(type=OpenAPIType.STRING, format="binary")  # type: ignore[arg-type]
FILES_FORM = Schema(
    type=OpenAPIType.OBJECT,
    additional_properties=BINARY,
    min_properties=1,
    description="Any number of file parts (at least one), each under its own field name.",
)


class ErrorEnvelope(msgspec.Struct, frozen=True):
    """Every error: ``error_message`` and ``code``, with fields of the error's own."""

    error_message: str
    """For people."""
    code: str
    """Stable and machine-readable (``not_found``, ``invalid_input``, ...); on the token
    endpoints, RFC 6749's ``error``."""
    location: str | None = None
    """The field a 422 is about (``files.mission``, ``name``)."""
    errors: list[dict[str, Any]] | None = None
    """Every invalid parameter, when several are."""
    error: str | None = None
    """RFC 6749 §5.2 (token endpoints)."""
    error_description: str | None = None
    """RFC 6749 §5.2 (token endpoints)."""
    retry_after_s: int | None = None
    """With a 429: as ``Retry-After``."""


ErrorClass = type[GosdError] | type[HTTPException]


def documented(
    *raises: ErrorClass,
    body: dict[str, Schema] | None = None,
    body_required: bool = True,
    answers: dict[str, Schema] | None = None,
    more_answers: dict[int, OpenAPIResponse] | None = None,
    more_errors: dict[int, str] | None = None,
) -> dict[str, Any]:
    """Route handler arguments (``@get(..., **documented(NotFound))``) that document a
    handler's request body, answers and errors.

    ``raises``: the errors the handler (and what it calls) raises; ``body``: media type
    -> schema of the request body; ``answers``: media type -> schema of the success
    answer when it is not JSON; ``more_answers``: other statuses it answers with;
    ``more_errors``: other error statuses (with the envelope) and what they mean.
    """
    request_body = (
        RequestBody(
            content={media: OpenAPIMediaType(schema=schema) for media, schema in body.items()},
            required=body_required,
        )
        if body
        else None
    )
    explicit = {status for error in raises for status in statuses_of(error)}
    explicit |= set(more_errors or {})
    meanings = {**STATUS_MEANINGS, **(more_errors or {})}

    @dataclass
    class DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            if request_body is not None:
                self.request_body = request_body
            applies = set(explicit)
            if self.security:
                applies |= {*statuses_of(AuthenticationFailed), *statuses_of(PermissionDenied)}
            if self.parameters:
                applies |= set(statuses_of(ValidationException))
            if self.request_body is not None:
                applies |= {*statuses_of(ClientException), *statuses_of(PayloadTooLarge)}
            responses = {}
            for code, response in (self.responses or {}).items():
                status = int(code)
                # Every error status is declared (below) with the envelope; the ones
                # that cannot happen here are dropped, and so are Litestar's defaults.
                if status < 400 or status in applies:
                    responses[code] = response
                if answers and 200 <= status < 300 and isinstance(response, OpenAPIResponse):
                    response.content = {
                        media: OpenAPIMediaType(schema=schema) for media, schema in answers.items()
                    }
            for status, extra in (more_answers or {}).items():
                responses[str(status)] = extra
            self.responses = dict(sorted(responses.items()))

    # Litestar turns these into responses whose body refers to the one ``ErrorEnvelope``
    # component; the operation above keeps those that apply to the handler.
    return {
        "operation_class": DocumentedOperation,
        "responses": {
            status: ResponseSpec(
                data_container=ErrorEnvelope, description=meaning, generate_examples=False
            )
            for status, meaning in meanings.items()
        },
    }
