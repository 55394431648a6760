"""Capped exponential backoff with jitter, for every retry loop of the service."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from ``initial`` up to ``cap``, with full jitter in the upper half."""

    def __init__(self, initial: float = 0.1, cap: float = 5.0) -> None:
        self._initial = initial
        self._cap = cap
        self._attempt = 0

    def next_delay(self) -> float:
        """Return the delay before the next attempt."""
        ceiling = min(self._cap, self._initial * 2.0**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        # Jitter keeps several relays or consumers from retrying in lockstep.
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    @property
    def failing(self) -> bool:
        """Whether a delay was taken since the last reset (a failure streak is on)."""
        return self._attempt > 0

    def reset(self) -> None:
        """Start again from ``initial`` after a success."""
        self._attempt = 0
