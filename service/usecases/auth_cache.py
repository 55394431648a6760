"""A short-lived cache of who holds a token or a client secret, forgotten on every change.

Authentication is a query on every request; most requests repeat the previous one's
answer. Entries live ``ttl`` seconds at most and never past the token's own expiry.
PostgreSQL notifies ``auth_changed`` with the table's name after any change to
tokens, users, roles, permissions, apps or signing keys (migrations 0004, 0007 and
0012), in every process; the cache then forgets the answers that table's change can
make wrong, and tells its watchers.
While the listening connection is down, the cache is bypassed, so a missed
notification cannot keep a revoked token or a rotated secret alive.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from service.domain.accounts import Principal
from service.domain.oauth2.clients import Client
from service.domain.oauth2.origins import BrowserOrigins
from service.domain.oauth2.tokens import BearerCaller

AUTH_CHANGED_CHANNEL = "auth_changed"
# OAuth tokens and grants stand behind Bearer principals only. They change at the
# rate of refresh grants, which must not empty the cache of X-Auth-Token callers
# and of clients every time.
BEARER_TABLES = frozenset({"oauth_tokens", "oauth_grants"})
# Apps stand behind clients (a rotated secret, a deactivated or deleted app), behind
# Bearer principals (a deactivated app's tokens die) and behind the browser origins
# of public clients (their redirect URIs).
CLIENTS_TABLE = "oauth_apps"
# Signing keys change no caller; the key ring watches them (usecases/oauth2/keys.py).
KEYS_TABLE = "signing_keys"
ORIGINS_KEY = "public clients"

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class Shelf(Generic[K, V]):
    """Answers of one kind, each for ``ttl`` seconds at most, while ``cache`` listens."""

    cache: AuthCache
    # Bumped by every clear: an answer read before a change must not be stored after it.
    generation: int = 0
    _entries: dict[K, tuple[V, float]] = field(default_factory=dict)

    def get(self, key: K) -> V | None:
        """Return the cached answer, or None when unknown, stale or not listening."""
        if not self.cache.listening:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, valid_until = entry
        if self.cache.clock() >= valid_until:
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V, *, generation: int, expires: datetime | None = None) -> None:
        """Remember an answer read during ``generation``, for ``ttl`` s or until ``expires``."""
        if not self.cache.listening or generation != self.generation:
            return
        valid_until = self.cache.clock() + self.cache.ttl
        if expires is not None:
            valid_until = min(valid_until, expires.timestamp())
        if len(self._entries) >= self.cache.max_entries:
            self._entries.clear()  # simple and safe: the next requests refill it
        self._entries[key] = (value, valid_until)

    async def get_or_load(
        self, key: K, load: Callable[[], Awaitable[tuple[V, datetime | None] | None]]
    ) -> V | None:
        """Cache-aside: the cached answer, or ``load()``'s ``(answer, expiry)``, remembered.

        The generation is read before loading, so that an answer read across a change
        is used once and not stored.
        """
        if (cached := self.get(key)) is not None:
            return cached
        generation = self.generation
        loaded = await load()
        if loaded is None:
            return None
        value, expires = loaded
        self.put(key, value, generation=generation, expires=expires)
        return value

    def forget(self, key: K) -> None:
        """Drop one answer at once (this process's own logout)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every answer."""
        self.generation += 1
        self._entries.clear()


@dataclass
class AuthCache:
    """X-Auth-Token callers by ``(user id, token hash)``, Bearer callers, clients, origins."""

    ttl: float = 10.0
    max_entries: int = 10_000
    clock: Callable[[], float] = time.time
    listening: bool = False
    # Others of the process told of each change first (the signing keys reload on theirs).
    watchers: list[Callable[[str | None], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.logins: Shelf[tuple[str, str], Principal] = Shelf(self)
        self.bearers: Shelf[str, BearerCaller] = Shelf(self)
        self.clients: Shelf[str, Client] = Shelf(self)
        # One entry (``ORIGINS_KEY``): a CORS preflight names no client, so it is
        # checked against every public client's origins at once.
        self.origins: Shelf[str, BrowserOrigins] = Shelf(self)

    def clear(self, table: str | None = None) -> None:
        """Forget what a change of ``table`` may have made wrong (all when None)."""
        for watcher in self.watchers:
            watcher(table)
        if table == KEYS_TABLE:
            return  # no cached caller depends on a signing key
        if table in BEARER_TABLES:
            self.bearers.clear()
        elif table == CLIENTS_TABLE:
            self.bearers.clear()
            self.clients.clear()
            self.origins.clear()
        else:  # users, roles, permissions, login tokens, or a lost listener
            self.logins.clear()
            self.bearers.clear()
            self.clients.clear()
            self.origins.clear()
