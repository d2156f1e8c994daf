"""The OAuth 2 token and revocation endpoints (RFC 6749, RFC 7009).

They take the body as multipart (what the seed's curl sends), urlencoded (what RFC 6749
asks for) or JSON, and client credentials in the body or as HTTP Basic (§2.3.1).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal
from urllib.parse import unquote_plus

import msgspec
from litestar import Request, post
from litestar.datastructures import UploadFile

from control_plane.api.auth import PUBLIC, ServicesDep
from control_plane.api.bodies import MAX_JSON_BYTES
from control_plane.api.openapi_docs import documented, struct_schema
from control_plane.errors import GosdError, OAuthError, TooManyAttempts
from control_plane.services import limits
from control_plane.services.auth import TokenResponse


class TokenRequest(msgspec.Struct, frozen=True):
    """Token endpoint parameters (RFC 6749 §4.3, §4.4, §6); which are needed depends on
    ``grant_type``. Client credentials may come as HTTP Basic instead."""

    grant_type: Literal["password", "client_credentials", "refresh_token"]
    client_id: str | None = None
    client_secret: str | None = None
    username: str | None = None
    password: str | None = None
    refresh_token: str | None = None


class RevokeRequest(msgspec.Struct, frozen=True):
    """RFC 7009 parameters; client credentials may come as HTTP Basic instead."""

    token: str
    client_id: str | None = None
    client_secret: str | None = None
    token_type_hint: str | None = None


def _form_body(struct: type, *raises: type[GosdError]) -> dict[str, Any]:
    schema = struct_schema(struct)
    return documented(
        OAuthError,
        *raises,
        body={
            media: schema
            for media in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "application/json",
            )
        },
    )


class Revoked(msgspec.Struct, frozen=True):
    """RFC 7009 answers 200 with no information either way."""


async def _params(request: Request[Any, Any, Any]) -> dict[str, str]:
    media = request.content_type[0]
    if media in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        form = await request.form()
        values: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                raise OAuthError("invalid_request", f"{key} must be a text field, not a file")
            if key in values:
                raise OAuthError("invalid_request", f"{key} is given twice")
            values[key] = value
    elif media == "application/json":
        body = await request.body()
        if len(body) > MAX_JSON_BYTES:
            raise OAuthError("invalid_request", "the body is too large")
        try:
            values = msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise OAuthError("invalid_request", "the body is not valid JSON") from None
        if not isinstance(values, dict):
            raise OAuthError("invalid_request", "the JSON body must be an object")
    else:
        raise OAuthError(
            "invalid_request",
            "send the parameters as application/x-www-form-urlencoded, multipart/form-data "
            "or application/json",
        )
    params: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(value, str):
            raise OAuthError("invalid_request", f"{key} must be a string")
        params[key] = value
    _merge_basic_auth(request, params)
    _check_lengths(params)
    return params


_MAX_CHARS = {"client_id": limits.CLIENT_ID, "username": limits.USERNAME}
"""Parameters looked up in the database, and the longest value their column holds."""


def _check_lengths(params: dict[str, str]) -> None:
    for name, longest in _MAX_CHARS.items():
        value = params.get(name, "")
        if len(value) > longest:
            raise OAuthError("invalid_request", f"{name} may have at most {longest} characters")
        if limits.NUL in value:
            raise OAuthError("invalid_request", f"{name} may not contain the NUL character")


def _merge_basic_auth(request: Request[Any, Any, Any], params: dict[str, str]) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return
    try:
        client_id, sep, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(
            "invalid_client", "malformed Basic credentials", client_auth_failed=True
        ) from None
    if not sep:
        raise OAuthError("invalid_client", "malformed Basic credentials", client_auth_failed=True)
    if "client_id" in params or "client_secret" in params:
        raise OAuthError("invalid_request", "give client credentials once, in the body or as Basic")
    params["client_id"], params["client_secret"] = unquote_plus(client_id), unquote_plus(secret)


def _require(params: dict[str, str], *names: str) -> list[str]:
    missing = [n for n in names if not params.get(n)]
    if missing:
        raise OAuthError("invalid_request", f"missing parameter: {', '.join(missing)}")
    return [params[n] for n in names]


def _operation_id(name: str):  # type: ignore[no-untyped-def]
    """Distinct operation ids for the same handler mounted at two paths."""

    def create(_handler: Any, _method: Any, path: list[str | Any]) -> str:
        prefix = "v2_" if "api" in path else ""
        return prefix + name

    return create


@post(
    ["/oauth/token", "/api/v2/oauth/token"],
    operation_id=_operation_id("oauth_token"),
    tags=["auth"],
    opt={PUBLIC: True},
    status_code=200,
    summary="Get a token",
    **_form_body(TokenRequest, TooManyAttempts),
)
async def token(request: Request[Any, Any, Any], services: ServicesDep) -> TokenResponse:
    """Issue a bearer token.

    Grants: ``password`` (``username``, ``password``, ``client_id``, ``client_secret``),
    ``client_credentials`` (a node: ``client_id=node-<id>``, its secret) and
    ``refresh_token``. Errors follow RFC 6749 §5.2; repeated wrong passwords lock the
    account for a while (429 with ``Retry-After``).
    """
    params = await _params(request)
    (grant_type,) = _require(params, "grant_type")
    auth = services.auth
    if grant_type == "password":
        username, password, client_id, secret = _require(
            params, "username", "password", "client_id", "client_secret"
        )
        return await auth.password_grant(
            client_id=client_id, client_secret=secret, username=username, password=password
        )
    if grant_type == "client_credentials":
        client_id, secret = _require(params, "client_id", "client_secret")
        return await auth.client_credentials_grant(client_id=client_id, client_secret=secret)
    if grant_type == "refresh_token":
        refresh, client_id, secret = _require(params, "refresh_token", "client_id", "client_secret")
        return await auth.refresh_grant(
            client_id=client_id, client_secret=secret, refresh_token=refresh
        )
    raise OAuthError("unsupported_grant_type", f"grant_type {grant_type[:40]!r} is not supported")


@post(
    ["/oauth/revoke", "/api/v2/oauth/revoke"],
    operation_id=_operation_id("oauth_revoke"),
    tags=["auth"],
    opt={PUBLIC: True},
    status_code=200,
    summary="Revoke a token",
    **_form_body(RevokeRequest),
)
async def revoke(request: Request[Any, Any, Any], services: ServicesDep) -> Revoked:
    """Revoke an access or refresh token (RFC 7009) with the client's credentials."""
    params = await _params(request)
    token_value, client_id, secret = _require(params, "token", "client_id", "client_secret")
    await services.auth.revoke(client_id=client_id, client_secret=secret, token=token_value)
    return Revoked()
