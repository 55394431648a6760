"""A short-lived cache of who holds a token, forgotten whenever authentication data changes.

Authentication is a query on every request; most requests repeat the previous one's
answer. Entries live ``ttl`` seconds at most and never past the token's own expiry.
PostgreSQL notifies ``auth_changed`` after any change to tokens, users, roles or
permissions (migration 0004), in every process; the cache then forgets everything.
While the listening connection is down, the cache is bypassed, so a missed
notification cannot keep a revoked token alive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from service.domain.accounts import Principal

AUTH_CHANGED_CHANNEL = "auth_changed"


@dataclass
class AuthCache:
    """``(user id, token hash)`` → principal, valid while the cache is listening."""

    ttl: float = 10.0
    max_entries: int = 10_000
    clock: Callable[[], float] = time.time
    listening: bool = False
    # Bumped by every clear: an answer read before a change must not be stored after it.
    generation: int = 0
    _entries: dict[tuple[str, str], tuple[Principal, float]] = field(default_factory=dict)

    def get(self, user_id: str, token_hash: str) -> Principal | None:
        """Return the cached principal, or None when unknown, stale or not listening."""
        if not self.listening:
            return None
        entry = self._entries.get((user_id, token_hash))
        if entry is None:
            return None
        principal, valid_until = entry
        if self.clock() >= valid_until:
            del self._entries[(user_id, token_hash)]
            return None
        return principal

    def put(
        self,
        user_id: str,
        token_hash: str,
        principal: Principal,
        *,
        token_expires: datetime | None,
        generation: int,
    ) -> None:
        """Remember an answer read during ``generation``, for ``ttl`` s or until expiry."""
        if not self.listening or generation != self.generation:
            return
        valid_until = self.clock() + self.ttl
        if token_expires is not None:
            valid_until = min(valid_until, token_expires.timestamp())
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # simple and safe: the next requests refill it
        self._entries[(user_id, token_hash)] = (principal, valid_until)

    def forget(self, user_id: str, token_hash: str) -> None:
        """Drop one token at once (this process's logout)."""
        self._entries.pop((user_id, token_hash), None)

    def clear(self) -> None:
        """Forget everything (a notification arrived, or the listener was lost)."""
        self.generation += 1
        self._entries.clear()
