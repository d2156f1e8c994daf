"""Groups, users and OAuth clients: the accounts people log in with."""

from __future__ import annotations

import asyncio

import msgspec
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from control_plane.db.models import Group, OAuthClient, Token, User
from control_plane.errors import Conflict, InvalidInput, NotFound
from control_plane.services import limits
from control_plane.services.clock import Clock, utc_now
from control_plane.services.hashing import hash_password, new_secret
from control_plane.services.principal import Principal


class GroupOut(msgspec.Struct, frozen=True):
    id: int
    name: str


class UserOut(msgspec.Struct, frozen=True):
    """A user as ``GET /api/v1/user/`` shows it."""

    id: int
    username: str
    is_admin: bool
    group: GroupOut


class ClientOut(msgspec.Struct, frozen=True):
    client_id: str


class ClientCreated(msgspec.Struct, frozen=True):
    client_id: str
    secret: str
    """Shown once: only its hash is kept."""


MIN_PASSWORD_LENGTH = 8


_NAME_LENGTHS = {
    "group": limits.GROUP_NAME,
    "username": limits.USERNAME,
    "client_id": limits.CLIENT_ID,
}


def _check_name(kind: str, value: str) -> str:
    value = value.strip()
    longest = _NAME_LENGTHS[kind]
    if not value or len(value) > longest:
        raise InvalidInput(f"{kind} must have 1 to {longest} characters", location=kind)
    if any(c.isspace() or not c.isprintable() for c in value):
        raise InvalidInput(f"{kind} may not contain spaces or control characters", location=kind)
    return value


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters", location="password"
        )


async def group_by_name(name: str) -> Group:
    """The group of that name, created when it does not exist yet."""
    name = _check_name("group", name)
    group, _ = await Group.get_or_create(name=name)
    return group


async def add_user(
    username: str, password: str, *, is_admin: bool = False, group: str | None = None
) -> UserOut:
    """Create a user; the group defaults to one named after the user, as the seed did."""
    username = _check_name("username", username)
    _check_password(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with in_transaction():
        grp = await group_by_name(group or username)
        if await User.exists(username=username):
            raise Conflict(f"user {username!r} exists already")
        try:
            user = await User.create(
                username=username, password_hash=password_hash, is_admin=is_admin, group=grp
            )
        except IntegrityError:
            raise Conflict(f"user {username!r} exists already") from None
    return UserOut(user.id, user.username, user.is_admin, GroupOut(grp.id, grp.name))


def user_of(principal: Principal) -> UserOut:
    """The calling user as the check of their token read them (with their group), so
    ``GET /api/v1/user/`` needs no database read of its own; at most a second old."""
    return UserOut(
        principal.id,
        principal.name,
        principal.is_admin,
        GroupOut(principal.group_id, principal.group_name),
    )


async def list_users() -> list[UserOut]:
    users = await User.all().select_related("group").order_by("id")
    return [
        UserOut(u.id, u.username, u.is_admin, GroupOut(u.group.id, u.group.name)) for u in users
    ]


async def set_password(username: str, password: str, *, clock: Clock = utc_now) -> None:
    """Change a password; it also lifts a login lock-out and revokes the user's tokens
    (whoever knew the old password may hold one)."""
    _check_password(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with in_transaction():
        user = await User.get_or_none(username=username)
        if user is None:
            raise NotFound(f"no user {username!r}")
        await User.filter(id=user.id).update(
            password_hash=password_hash, failed_logins=0, locked_until=None
        )
        await Token.filter(user_id=user.id, revoked_at=None).update(revoked_at=clock())


async def remove_user(username: str) -> None:
    """Delete a user and, through the foreign key, every token of theirs."""
    deleted = await User.filter(username=username).delete()
    if not deleted:
        raise NotFound(f"no user {username!r}")


async def add_client(client_id: str, secret: str | None = None) -> ClientCreated:
    """Register an OAuth client; a secret is generated when none is given."""
    client_id = _check_name("client_id", client_id)
    secret = secret or new_secret()
    secret_hash = await asyncio.to_thread(hash_password, secret)
    try:
        await OAuthClient.create(client_id=client_id, secret_hash=secret_hash)
    except IntegrityError:
        raise Conflict(f"client {client_id!r} exists already") from None
    return ClientCreated(client_id, secret)


async def list_clients() -> list[ClientOut]:
    return [ClientOut(c.client_id) for c in await OAuthClient.all().order_by("id")]


async def remove_client(client_id: str) -> None:
    deleted = await OAuthClient.filter(client_id=client_id).delete()
    if not deleted:
        raise NotFound(f"no client {client_id!r}")
