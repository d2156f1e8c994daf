"""OpenAPI request bodies for handlers that read their body themselves.

Token, blob, plan and job handlers accept several encodings (JSON, urlencoded,
multipart) on one route, which Litestar cannot infer from a ``data`` parameter; each
declares what it accepts with ``operation_class=documented_body(...)`` so the
document still says exactly what the handler takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

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
    description="Any number of file parts, each under its own field name.",
)


def documented_body(content: dict[str, Schema], *, required: bool = True) -> type[Operation]:
    """An ``Operation`` class whose request body is ``content`` (media type -> schema)."""
    body = RequestBody(
        content={media: OpenAPIMediaType(schema=schema) for media, schema in content.items()},
        required=required,
    )

    @dataclass
    class DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return DocumentedOperation
