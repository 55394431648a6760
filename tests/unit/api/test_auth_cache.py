from datetime import UTC, datetime

from service.api.auth_cache import AuthCache
from service.domain.accounts import Principal

ALICE = Principal("u1", "alice", frozenset({"manage-oauth-apps"}))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def listening_cache(clock: Clock) -> AuthCache:
    cache = AuthCache(ttl=10, clock=clock)
    cache.listening = True
    return cache


def test_hit_until_ttl() -> None:
    clock = Clock()
    cache = listening_cache(clock)
    cache.put("u1", "h", ALICE, token_expires=None, generation=cache.generation)
    assert cache.get("u1", "h") == ALICE
    assert cache.get("u1", "other") is None
    clock.now += 10
    assert cache.get("u1", "h") is None


def test_never_past_the_token_expiry() -> None:
    clock = Clock()
    cache = listening_cache(clock)
    expires = datetime.fromtimestamp(clock.now + 3, UTC)
    cache.put("u1", "h", ALICE, token_expires=expires, generation=cache.generation)
    clock.now += 3
    assert cache.get("u1", "h") is None


def test_bypassed_while_not_listening() -> None:
    cache = AuthCache(clock=Clock())
    cache.put("u1", "h", ALICE, token_expires=None, generation=cache.generation)
    assert cache.get("u1", "h") is None
    cache.listening = True
    assert cache.get("u1", "h") is None  # nothing was stored while deaf


def test_an_answer_read_before_a_change_is_not_stored_after_it() -> None:
    cache = listening_cache(Clock())
    generation = cache.generation
    cache.clear()  # a notification arrived while the query ran
    cache.put("u1", "h", ALICE, token_expires=None, generation=generation)
    assert cache.get("u1", "h") is None


def test_forget_and_clear() -> None:
    cache = listening_cache(Clock())
    cache.put("u1", "h", ALICE, token_expires=None, generation=cache.generation)
    cache.put("u2", "g", ALICE, token_expires=None, generation=cache.generation)
    cache.forget("u1", "h")
    assert cache.get("u1", "h") is None and cache.get("u2", "g") == ALICE
    cache.clear()
    assert cache.get("u2", "g") is None
