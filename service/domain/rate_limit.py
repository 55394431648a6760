"""Rocket.Chat's API rate limiter: N calls per interval, per route and caller, in memory."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether a call may proceed, and what the ``X-RateLimit-*`` headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # seconds since the epoch, when the window ends

    @property
    def retry_after(self) -> int:
        """Whole seconds until the window ends."""
        return max(1, math.ceil(self.reset_at - time.time()))

    def headers(self) -> dict[str, str]:
        """Rocket.Chat's headers; the reset is in epoch milliseconds, like Rocket.Chat's."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(int(self.reset_at * 1000)),
        }


class RateLimiter:
    """A fixed window per key; each process counts alone (as each Rocket.Chat instance does)."""

    def __init__(self, calls: int, interval: float, clock: Callable[[], float] = time.time) -> None:
        self.calls = calls
        self.interval = interval
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> RateDecision:
        """Count one call of ``key`` and decide."""
        now = self._clock()
        start, used = self._windows.get(key, (now, 0))
        if now - start >= self.interval:
            start, used = now, 0
        if len(self._windows) > 50_000:  # forget finished windows to bound memory
            self._windows = {k: w for k, w in self._windows.items() if now - w[0] < self.interval}
        allowed = used < self.calls
        if allowed:
            used += 1
        self._windows[key] = (start, used)
        return RateDecision(
            allowed=allowed,
            limit=self.calls,
            remaining=self.calls - used,
            reset_at=start + self.interval,
        )
