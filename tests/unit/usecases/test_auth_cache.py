"""The authentication cache: lifetimes, generations, and what each table's change forgets."""

from datetime import UTC, datetime

import pytest

from service.domain.accounts import Principal
from service.domain.oauth2.clients import Client
from service.usecases.auth_cache import AuthCache

ALICE = Principal("u1", "alice", frozenset({"manage-oauth-apps"}))
APP = Client("a1", "client-a", "app", ("https://a.test/cb",), True, "hash")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def listening_cache(clock: Clock) -> AuthCache:
    cache = AuthCache(ttl=10, clock=clock)
    cache.listening = True
    return cache


def fill(cache: AuthCache) -> None:
    cache.logins.put(("u1", "h"), ALICE, generation=cache.logins.generation)
    cache.bearers.put("b", ALICE, generation=cache.bearers.generation)
    cache.clients.put("client-a", APP, generation=cache.clients.generation)


def kept(cache: AuthCache) -> set[str]:
    return {
        name
        for name, found in (
            ("logins", cache.logins.get(("u1", "h"))),
            ("bearers", cache.bearers.get("b")),
            ("clients", cache.clients.get("client-a")),
        )
        if found is not None
    }


def test_hit_until_ttl() -> None:
    clock = Clock()
    cache = listening_cache(clock)
    cache.logins.put(("u1", "h"), ALICE, generation=cache.logins.generation)
    assert cache.logins.get(("u1", "h")) == ALICE
    assert cache.logins.get(("u1", "other")) is None
    clock.now += 10
    assert cache.logins.get(("u1", "h")) is None


def test_never_past_the_token_expiry() -> None:
    clock = Clock()
    cache = listening_cache(clock)
    expires = datetime.fromtimestamp(clock.now + 3, UTC)
    cache.bearers.put("b", ALICE, generation=cache.bearers.generation, expires=expires)
    clock.now += 3
    assert cache.bearers.get("b") is None


def test_bypassed_while_not_listening() -> None:
    cache = AuthCache()
    fill(cache)
    assert kept(cache) == set()
    cache.listening = True
    assert kept(cache) == set()  # nothing was stored while deaf


def test_an_answer_read_before_a_change_is_not_stored_after_it() -> None:
    cache = listening_cache(Clock())
    generation = cache.logins.generation
    cache.clear("users")  # a notification arrived while the query ran
    cache.logins.put(("u1", "h"), ALICE, generation=generation)
    assert cache.logins.get(("u1", "h")) is None


def test_a_token_change_does_not_stop_clients_or_logins_being_stored() -> None:
    cache = listening_cache(Clock())
    logins, clients = cache.logins.generation, cache.clients.generation
    cache.clear("oauth_tokens")  # a refresh grant, somewhere, while the queries ran
    cache.logins.put(("u1", "h"), ALICE, generation=logins)
    cache.clients.put("client-a", APP, generation=clients)
    assert kept(cache) == {"logins", "clients"}


def test_forget_one() -> None:
    cache = listening_cache(Clock())
    cache.logins.put(("u1", "h"), ALICE, generation=cache.logins.generation)
    cache.logins.put(("u2", "g"), ALICE, generation=cache.logins.generation)
    cache.logins.forget(("u1", "h"))
    assert cache.logins.get(("u1", "h")) is None and cache.logins.get(("u2", "g")) == ALICE


@pytest.mark.parametrize(
    ("table", "left"),
    [
        ("oauth_tokens", {"logins", "clients"}),  # a refresh grant: Bearer callers only
        ("oauth_grants", {"logins", "clients"}),
        ("oauth_apps", {"logins"}),  # a rotated secret, a deactivated app
        ("login_tokens", set()),
        ("users", set()),
        ("role_permissions", set()),
        (None, set()),  # the listener lost its connection
    ],
)
def test_each_change_forgets_what_it_may_have_made_wrong(table: str | None, left: set[str]) -> None:
    cache = listening_cache(Clock())
    fill(cache)
    cache.clear(table)
    assert kept(cache) == left
