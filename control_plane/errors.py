"""The one error hierarchy of the control plane.

Services raise these; ``api/errors.py`` maps them to HTTP in exactly one place, so a
service never knows about status codes and every error reaches a client in the same
envelope (``{"error_message": ..., "code": ...}``).
"""

from __future__ import annotations

from typing import Any


class GosdError(Exception):
    """Base of every error a client may be told about.

    ``code`` is a stable machine-readable string; ``message`` is for people;
    ``details`` are extra fields merged into the error envelope.
    """

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidInput(GosdError):
    """The request is well-formed but a field is wrong; ``location`` names the field."""

    code = "invalid_input"

    def __init__(self, message: str, *, location: str | None = None, **details: Any) -> None:
        if location is not None:
            details["location"] = location
        super().__init__(message, **details)


class NotFound(GosdError):
    """No such resource in the caller's group (another group's resource looks absent)."""

    code = "not_found"


class Conflict(GosdError):
    """The resource is in a state that forbids the change (e.g. still referenced)."""

    code = "conflict"


class NodeUnreachable(GosdError):
    """The node did not answer over MQTT in time; nothing changed on it."""

    code = "node_unreachable"


class PermissionDenied(GosdError):
    """The caller is known but may not do this (e.g. not an admin, or a node)."""

    code = "forbidden"


class AuthenticationFailed(GosdError):
    """No usable bearer token (RFC 6750): missing, unknown, expired or revoked."""

    code = "invalid_token"

    def __init__(self, message: str, *, bearer_error: str | None = "invalid_token") -> None:
        super().__init__(message)
        self.bearer_error = bearer_error


class OAuthError(GosdError):
    """A token-endpoint error in the terms of RFC 6749 §5.2 (``code`` is its ``error``)."""

    def __init__(self, error: str, description: str, *, client_auth_failed: bool = False) -> None:
        super().__init__(description, code=error)
        self.client_auth_failed = client_auth_failed


class TooManyAttempts(GosdError):
    """Login locked after repeated failures; ``retry_after_s`` says for how long."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


class PayloadTooLarge(GosdError):
    """An upload over the configured limit."""

    code = "payload_too_large"


class InvalidStream(GosdError):
    """A published live stream is not FLV the relay passes on; the message names the
    fault and where (byte offset, tag number)."""

    code = "invalid_stream"


class StreamUnavailable(NodeUnreachable):
    """A viewer's stream did not start: the node is offline or its agent did not start it."""

    code = "stream_unavailable"
