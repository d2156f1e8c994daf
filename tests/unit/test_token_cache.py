"""The bounds of the verified-token cache, on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from control_plane.services.principal import Principal
from control_plane.services.token_cache import TokenCache

ALICE = Principal(kind="user", id=1, group_id=1, name="alice", group_name="alice")
DRONE = Principal(kind="node", id=7, group_id=1, name="drone", group_name="alice")
LATER = datetime.now(UTC) + timedelta(hours=2)


class Monotonic:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


@pytest.fixture
def cache(monotonic: Monotonic) -> TokenCache:
    return TokenCache(fresh_s=0.3, max_age_s=0.6, max_entries=3, monotonic=monotonic)


def _checked(cache: TokenCache, digest: str, principal: Principal = ALICE) -> None:
    check = cache.begin(digest)
    cache.store(check, principal, LATER)
    cache.end(check)


def test_an_entry_is_used_until_it_must_be_checked_again(
    cache: TokenCache, monotonic: Monotonic
) -> None:
    _checked(cache, "a")
    monotonic.now_s += 0.29
    entry = cache.get("a")
    assert entry is not None and entry.principal == ALICE
    monotonic.now_s += 0.02
    assert cache.get("a") is None


def test_while_one_request_checks_again_others_use_the_entry_but_never_past_max_age(
    cache: TokenCache, monotonic: Monotonic
) -> None:
    _checked(cache, "a")
    monotonic.now_s += 0.4
    assert cache.get("a") is None
    check = cache.begin("a")  # this request reads the database; the others wait for nobody
    assert cache.get("a") is not None
    monotonic.now_s += 0.21  # 0.61 s since the read behind the entry started
    assert cache.get("a") is None
    cache.end(check)


def test_an_entry_ages_from_when_its_database_read_started(
    cache: TokenCache, monotonic: Monotonic
) -> None:
    """A read that took long must not extend trust: revocations committed during it."""
    check = cache.begin("a")
    monotonic.now_s += 0.5  # a slow read
    cache.store(check, ALICE, LATER)
    cache.end(check)
    monotonic.now_s += 0.11
    assert cache.get("a") is None


def test_a_check_in_flight_during_a_revocation_does_not_bring_the_token_back(
    cache: TokenCache,
) -> None:
    check = cache.begin("a")  # read the row before the revocation committed
    cache.forget(["a"])
    cache.store(check, ALICE, LATER)
    cache.end(check)
    assert cache.get("a") is None
    again = cache.begin("a")  # a read after the revocation is remembered again
    cache.store(again, ALICE, LATER)
    assert cache.get("a") is not None


def test_forgetting_an_owner_drops_only_that_owners_tokens(cache: TokenCache) -> None:
    _checked(cache, "alice-1")
    _checked(cache, "drone-1", DRONE)
    cache.forget_owner("node", 7)
    assert cache.get("drone-1") is None
    assert cache.get("alice-1") is not None
    cache.forget_owner("user", 1)
    assert cache.get("alice-1") is None


def test_the_cache_is_bounded_and_drops_the_least_recently_checked(
    cache: TokenCache, monotonic: Monotonic
) -> None:
    for digest in ("a", "b", "c"):
        _checked(cache, digest)
    monotonic.now_s += 0.1
    _checked(cache, "a")  # checked again: now the most recent
    _checked(cache, "d")
    assert len(cache) == 3
    assert cache.get("b") is None
    assert all(cache.get(d) is not None for d in ("a", "c", "d"))


def test_bounds_must_make_sense() -> None:
    with pytest.raises(ValueError, match="fresh_s"):
        TokenCache(fresh_s=1.0, max_age_s=0.5)
