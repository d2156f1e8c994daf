"""The one place where errors become HTTP responses.

Every error leaves as ``{"error_message": str, "code": str, ...}`` with the right
status; an unexpected exception is logged and answered 500 without internals.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import ParameterKwarg
from litestar.types import ExceptionHandlersMap

from control_plane.errors import (
    AuthenticationFailed,
    Conflict,
    GosdError,
    InvalidInput,
    NodeUnreachable,
    NotFound,
    OAuthError,
    PayloadTooLarge,
    PermissionDenied,
    TooManyAttempts,
)

log = logging.getLogger(__name__)

_STATUS: dict[type[GosdError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    NodeUnreachable: 503,
    PermissionDenied: 403,
    AuthenticationFailed: 401,
    TooManyAttempts: 429,
    PayloadTooLarge: 413,
}

STATUS_MEANINGS = {
    400: "The body cannot be read (not JSON, a broken multipart form); on the token "
    "endpoints, any request error of RFC 6749 §5.2",
    401: "No usable bearer token (RFC 6750), or wrong client credentials",
    403: "The token may not do this: a node's token on a person's route, or not an admin",
    404: "No such resource in the caller's group",
    409: "The resource's state forbids the change (still used, already ended, busy)",
    413: "The body is over the route's size limit",
    415: "The body's content type is not one this route reads",
    422: "A value is invalid: ``location`` names the field",
    429: "Too many failed logins: try again after ``Retry-After`` seconds",
    503: "The node did not answer over MQTT in time; nothing changed on it",
}
"""What each error status means, for the API document."""


def statuses_of(error: type[Exception]) -> list[int]:
    """The statuses an error class is answered with (what ``gosd_error`` and
    ``http_error`` below choose), so the API document cannot drift from them."""
    if issubclass(error, OAuthError):
        return [400, 401]
    if issubclass(error, GosdError):
        return [next((s for cls, s in _STATUS.items() if issubclass(error, cls)), 400)]
    if issubclass(error, ValidationException):
        return [422]
    if issubclass(error, HTTPException):
        return [error.status_code]
    raise TypeError(f"{error.__name__} is not answered as an HTTP error")


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def envelope(
    status: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
    /,
    **details: Any,
) -> Response[dict[str, Any]]:
    """The error envelope; positional-only so ``details`` may hold any field name."""
    return Response(
        {"error_message": message, "code": code, **details},
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _bearer_challenge(error: str | None, description: str) -> str:
    challenge = 'Bearer realm="gosd"'
    if error:
        challenge += f', error="{error}", error_description="{description}"'
    return challenge


def gosd_error(_: Request[Any, Any, Any], exc: GosdError) -> Response[dict[str, Any]]:
    headers: dict[str, str] = {}
    if isinstance(exc, OAuthError):
        # RFC 6749 §5.2: the OAuth fields sit beside the envelope's own.
        status = 401 if exc.client_auth_failed else 400
        if exc.client_auth_failed:
            headers["WWW-Authenticate"] = 'Basic realm="gosd"'
        return envelope(
            status, exc.message, exc.code, headers, error=exc.code, error_description=exc.message
        )
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
    if isinstance(exc, AuthenticationFailed):
        headers["WWW-Authenticate"] = _bearer_challenge(exc.bearer_error, exc.message)
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, PermissionDenied):
        headers["WWW-Authenticate"] = 'Bearer realm="gosd", error="insufficient_scope"'
    return envelope(status, exc.message, exc.code, headers, **exc.details)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status >= 500:
        log.error("internal error: %s", exc.detail)
        return envelope(500, "internal error", "internal_error")
    if isinstance(exc, ValidationException):
        return _invalid_parameters(request, exc)
    message = exc.detail or HTTPStatus(status).phrase
    return envelope(status, message, _HTTP_CODES.get(status, "error"), exc.headers)


def _invalid_parameters(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    """Litestar's check of path and query parameters (bodies are read by ``bodies.py``):
    a value that fails validation, so 422 ``invalid_input`` like any other, naming the
    parameter as the client sends it (``time``), not as the handler calls it."""
    errors = [
        {**e, "key": _wire_name(request, e["key"])} if isinstance(e, dict) and "key" in e else e
        for e in (exc.extra if isinstance(exc.extra, list) else [])
    ]
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    key, problem = first.get("key"), first.get("message")
    message = f"{key}: {problem}" if key and problem else "a parameter is invalid"
    details: dict[str, Any] = {"errors": errors}
    if key:
        details["location"] = key
    return envelope(422, message, InvalidInput.code, None, **details)


def _wire_name(request: Request[Any, Any, Any], key: str) -> str:
    field = request.route_handler.parsed_fn_signature.parameters.get(key)
    kwarg = field.kwarg_definition if field is not None else None
    return kwarg.name if isinstance(kwarg, ParameterKwarg) and kwarg.name else key


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return envelope(500, "internal error", "internal_error")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    GosdError: gosd_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
