"""OAuth 2 grants, bearer-token authentication, revocation and login lock-out.

Tokens are opaque (RFC 6749 §1.4), stored as digests, and really expire. A person logs
in with the ``password`` grant through a registered client; a node uses
``client_credentials`` with ``client_id = "node-<id>"`` and its own secret.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import msgspec
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from control_plane.db.models import Node, OAuthClient, Token, User
from control_plane.errors import AuthenticationFailed, OAuthError, TooManyAttempts
from control_plane.services.clock import Clock
from control_plane.services.hashing import (
    new_token,
    token_digest,
    verify_node_secret,
    verify_password,
)
from control_plane.services.principal import Principal
from control_plane.services.shared_load import SharedLoads
from control_plane.services.token_cache import Check, TokenCache

NODE_CLIENT_ID = re.compile(r"node-([1-9][0-9]{0,9})")
_TOKEN_SHAPE = re.compile(r"[0-9a-f]{64}")


class TokenResponse(msgspec.Struct, frozen=True, omit_defaults=True):
    """The token endpoint's answer, as the seed shows it plus ``refresh_token``."""

    access_token: str
    token_type: str
    expires_in: int
    created_at: int
    refresh_token: str | None = None


@dataclass(frozen=True, kw_only=True)
class AuthPolicy:
    access_token_ttl_s: int
    refresh_token_ttl_s: int
    login_max_failures: int
    login_lockout_s: int


class AuthService:
    """Issues, checks and revokes tokens."""

    def __init__(self, policy: AuthPolicy, clock: Clock, tokens: TokenCache | None = None) -> None:
        self._policy = policy
        self._clock = clock
        self._tokens = tokens if tokens is not None else TokenCache()
        self._token_reads: SharedLoads[str, Principal] = SharedLoads(self._tokens.max_age_s)

    # --- grants -------------------------------------------------------------------

    async def password_grant(
        self, *, client_id: str, client_secret: str, username: str, password: str
    ) -> TokenResponse:
        """Log a person in through a registered client (RFC 6749 §4.3)."""
        await self._check_client(client_id, client_secret)
        user = await User.get_or_none(username=username)
        now = self._clock()
        if user is not None and user.locked_until is not None and user.locked_until > now:
            raise TooManyAttempts(
                "too many failed logins, try again later",
                retry_after_s=max(1, math.ceil((user.locked_until - now).total_seconds())),
            )
        ok = await asyncio.to_thread(
            verify_password, user.password_hash if user else None, password
        )
        if user is None or not ok:
            if user is not None:
                await self._count_failure(user.id, now)
            raise OAuthError("invalid_grant", "wrong username or password")
        if user.failed_logins or user.locked_until:
            await User.filter(id=user.id).update(failed_logins=0, locked_until=None)
        return await self._issue(client_id=client_id, user=user, with_refresh=True)

    async def client_credentials_grant(
        self, *, client_id: str, client_secret: str
    ) -> TokenResponse:
        """Authenticate a node with its own secret (RFC 6749 §4.4); no refresh token."""
        node = await self._node_client(client_id, client_secret)
        return await self._issue(client_id=client_id, node=node, with_refresh=False)

    async def refresh_grant(
        self, *, client_id: str, client_secret: str, refresh_token: str
    ) -> TokenResponse:
        """Trade a refresh token for a new pair; the old pair stops working (rotation)."""
        await self._check_client(client_id, client_secret)
        now = self._clock()
        async with in_transaction():
            token = await Token.get_or_none(
                refresh_digest=token_digest(refresh_token), client_id=client_id
            ).select_related("user")
            if (
                token is None
                or token.user is None
                or token.revoked_at is not None
                or token.refresh_expires_at is None
                or token.refresh_expires_at <= now
            ):
                raise OAuthError(
                    "invalid_grant", "the refresh token is unknown, expired or revoked"
                )
            revoked = await Token.filter(id=token.id, revoked_at=None).update(revoked_at=now)
            if not revoked:  # a concurrent refresh won the race
                raise OAuthError("invalid_grant", "the refresh token was used already")
            issued = await self._issue(client_id=client_id, user=token.user, with_refresh=True)
        self._tokens.forget([token.access_digest])
        return issued

    async def revoke(self, *, client_id: str, client_secret: str, token: str) -> None:
        """RFC 7009: revoke an access or refresh token (and its pair) held by this client.

        An unknown token is not an error: the answer must not tell whether it existed.
        """
        if NODE_CLIENT_ID.fullmatch(client_id):
            await self._node_client(client_id, client_secret)
        else:
            await self._check_client(client_id, client_secret)
        digest = token_digest(token)
        now = self._clock()
        mine = Token.filter(client_id=client_id, revoked_at=None).filter(
            Q(access_digest=digest) | Q(refresh_digest=digest)
        )
        access_digests = await mine.values_list("access_digest", flat=True)
        if access_digests:
            await Token.filter(access_digest__in=access_digests, revoked_at=None).update(
                revoked_at=now
            )
            self._tokens.forget(cast(list[str], access_digests))

    # --- bearer authentication ------------------------------------------------------

    async def authenticate(self, access_token: str) -> Principal:
        """The principal behind a bearer token, or ``AuthenticationFailed`` (RFC 6750).

        Answered from the in-process cache of verified tokens when it may be (see
        ``token_cache``: expiry exact, revocation here at once, elsewhere within 1 s).
        """
        if not _TOKEN_SHAPE.fullmatch(access_token):
            raise AuthenticationFailed("the access token is malformed")
        digest = token_digest(access_token)
        cached = self._tokens.get(digest)
        if cached is not None:
            if cached.expires_at <= self._clock():
                self._tokens.discard(digest)
                raise AuthenticationFailed("the access token has expired")
            return cached.principal
        return await self._check_token(digest)

    def forget_user(self, user_id: int) -> None:
        """The user's tokens were revoked or deleted by this process: refuse them now."""
        self._tokens.forget_owner("user", user_id)

    def forget_node(self, node_id: int) -> None:
        """The node's tokens were revoked or deleted by this process: refuse them now."""
        self._tokens.forget_owner("node", node_id)

    async def _check_token(self, digest: str) -> Principal:
        check = self._tokens.begin(digest)
        try:
            principal, _ = await self._token_reads.load(
                digest, check.epoch, check.started_s, lambda: self._read_token(check)
            )
        finally:
            self._tokens.end(check)
        return principal

    async def _read_token(self, check: Check) -> Principal:
        """The database's word on one token, remembered in the cache when it is valid."""
        digest = check.digest
        token = await Token.get_or_none(access_digest=digest).select_related(
            "user__group", "node__group"
        )
        if token is None:
            self._tokens.discard(digest)
            raise AuthenticationFailed("the access token is unknown")
        if token.revoked_at is not None:
            self._tokens.discard(digest)
            raise AuthenticationFailed("the access token was revoked")
        if token.expires_at <= self._clock():
            self._tokens.discard(digest)
            raise AuthenticationFailed("the access token has expired")
        if token.user is not None:
            u = token.user
            principal = Principal(
                kind="user",
                id=u.id,
                group_id=u.group_id,
                name=u.username,
                is_admin=u.is_admin,
                group_name=u.group.name,
            )
        elif token.node is not None:
            n = token.node
            principal = Principal(
                kind="node", id=n.id, group_id=n.group_id, name=n.name, group_name=n.group.name
            )
        else:
            raise AuthenticationFailed("the access token has no owner")
        self._tokens.store(check, principal, token.expires_at)
        return principal

    # --- internals --------------------------------------------------------------------

    async def _check_client(self, client_id: str, client_secret: str) -> None:
        client = await OAuthClient.get_or_none(client_id=client_id)
        ok = await asyncio.to_thread(
            verify_password, client.secret_hash if client else None, client_secret
        )
        if client is None or not ok:
            raise OAuthError(
                "invalid_client", "unknown client or wrong client secret", client_auth_failed=True
            )

    async def _node_client(self, client_id: str, client_secret: str) -> Node:
        match = NODE_CLIENT_ID.fullmatch(client_id)
        node = await Node.get_or_none(id=int(match.group(1))) if match else None
        if node is None or not verify_node_secret(node.secret_hash, client_secret):
            raise OAuthError(
                "invalid_client", "unknown node or wrong node secret", client_auth_failed=True
            )
        return node

    async def _count_failure(self, user_id: int, now: datetime) -> None:
        await User.filter(id=user_id).update(failed_logins=F("failed_logins") + 1)
        locked_until = now + timedelta(seconds=self._policy.login_lockout_s)
        await User.filter(id=user_id, failed_logins__gte=self._policy.login_max_failures).update(
            failed_logins=0, locked_until=locked_until
        )

    async def _issue(
        self,
        *,
        client_id: str,
        user: User | None = None,
        node: Node | None = None,
        with_refresh: bool,
    ) -> TokenResponse:
        now = self._clock()
        access = new_token()
        refresh = new_token() if with_refresh else None
        await Token.create(
            access_digest=token_digest(access),
            refresh_digest=token_digest(refresh) if refresh else None,
            client_id=client_id,
            user=user,
            node=node,
            created_at=now,
            expires_at=now + timedelta(seconds=self._policy.access_token_ttl_s),
            refresh_expires_at=(
                now + timedelta(seconds=self._policy.refresh_token_ttl_s) if refresh else None
            ),
        )
        return TokenResponse(
            access_token=access,
            token_type="bearer",  # noqa: S106 - the token type's name, not a secret
            expires_in=self._policy.access_token_ttl_s,
            created_at=int(now.timestamp()),
            refresh_token=refresh,
        )
