"""Slowing down repeated failures (failed logins) per client."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

_SWEEP_AT = 10_000  # keys kept before stale ones are swept, to bound memory


class FailureThrottle:
    """Refuse a key for the rest of the window once it has failed ``limit`` times in it."""

    def __init__(
        self, limit: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> int:
        """Return the seconds ``key`` must wait, 0 when it may try now."""
        failures = self._recent(key)
        if len(failures) < self._limit:
            return 0
        return max(1, math.ceil(failures[0] + self._window - self._clock()))

    def record_failure(self, key: str) -> None:
        """Count one failure of ``key``."""
        if len(self._failures) >= _SWEEP_AT:
            for stale in list(self._failures):
                self._recent(stale)
        self._recent(key)
        self._failures.setdefault(key, deque()).append(self._clock())

    def attempt(self, key: str) -> int:
        """Count an attempt of ``key`` before it is made; return the seconds to wait instead.

        Counting first, with no await between the check and the count, is what bounds
        concurrent attempts: 100 at once see the count grow one by one.
        """
        if wait := self.retry_after(key):
            return wait
        self.record_failure(key)
        return 0

    def refund(self, key: str) -> None:
        """Take back the newest count of ``key`` (an attempt that turned out well)."""
        failures = self._failures.get(key)
        if failures:
            failures.pop()

    def reset(self, key: str) -> None:
        """Forget ``key``'s failures after a success."""
        self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float]:
        """Return the failures of ``key`` still in the window, dropping a key that has none."""
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        horizon = self._clock() - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures
