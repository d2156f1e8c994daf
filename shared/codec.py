"""Encoding and strict decoding of payloads.

Everything a process receives from the broker goes through ``decode``: a payload that
is too large, not JSON, or not of the expected shape raises ``ProtocolError`` with a
message fit for a log line, and the caller drops the message.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

MAX_PAYLOAD_BYTES = 256 * 1024
"""Larger payloads are refused before parsing: no telemetry or event comes near it."""

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


class ProtocolError(ValueError):
    """A payload that does not follow the protocol."""


def encode(message: Any) -> bytes:
    return _encoder.encode(message)


def decode(payload: bytes | bytearray | str, kind: type[T]) -> T:
    """Decode ``payload`` as ``kind`` or raise ``ProtocolError`` saying why."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        return decoder.decode(payload)  # type: ignore[no-any-return]
    except (msgspec.DecodeError, ValueError) as exc:
        raise ProtocolError(f"{kind.__name__}: {exc}") from exc


def decode_object(payload: bytes | bytearray | str) -> dict[str, Any]:
    """Decode a payload that must be a JSON object of any shape (unknown telemetry)."""
    return decode(payload, dict[str, Any])
