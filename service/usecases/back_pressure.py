"""Back-pressure from the outbox: creates wait while the relay is publishing but behind.

The outbox absorbs bursts and broker outages. But when the relay is publishing and
still falls behind (on a saturated machine the API can accept creates faster than the
relay gets CPU to publish them), every create adds to a lag that only grows. Then the
API holds new creates, a bounded time each, until the relay catches up. It never
holds them while the relay makes no progress at all (broker down, no relay running):
that is what the outbox is for, and creates must go on succeeding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from service.metrics import CREATES_HELD
from service.persistence import outbox
from service.persistence.database import Database
from service.persistence.outbox import OldestPending
from service.waiting import wait_any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PressureConfig:
    """When the relay counts as behind, and how long a create may be held for it."""

    max_lag: float = 0.25  # age of the oldest unpublished event
    stall_after: float = 1.0  # no event published for this long: the relay is not running
    poll_interval: float = 0.05
    max_hold: float = 1.0


def relay_behind(
    oldest: OldestPending | None, since_progress: float, config: PressureConfig
) -> bool:
    """Whether creates should wait for the relay.

    They should when an event older than ``max_lag`` waits and the relay published
    something within ``stall_after`` (``since_progress`` seconds ago).
    """
    if oldest is None:
        return False
    return oldest.age > config.max_lag and since_progress < config.stall_after


class OutboxPressure:
    """Watches the outbox from one API process; creates call :meth:`wait` before writing."""

    def __init__(self, database: Database, config: PressureConfig | None = None) -> None:
        self._database = database
        self._config = config or PressureConfig()
        self._clear = asyncio.Event()
        self._clear.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start watching."""
        self._task = asyncio.create_task(self._watch(), name="outbox-pressure")

    async def close(self) -> None:
        """Stop watching and let every held create go."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._clear.set()

    async def wait(self) -> None:
        """Return at once, or when the relay caught up, or after ``max_hold`` at most."""
        if not self._clear.is_set():
            await wait_any(self._clear, timeout=self._config.max_hold)

    async def _watch(self) -> None:
        last_seq: int | None = None
        progressed_at = time.monotonic()
        while True:
            try:
                async with self._database.autocommit.connect() as connection:
                    oldest = await outbox.oldest_pending(connection)
            except Exception:  # the database is down: requests report that themselves
                oldest = None
            now = time.monotonic()
            seq = None if oldest is None else oldest.seq
            if seq != last_seq:
                last_seq, progressed_at = seq, now
            self._set_behind(relay_behind(oldest, now - progressed_at, self._config))
            await asyncio.sleep(self._config.poll_interval)

    def _set_behind(self, behind: bool) -> None:
        if behind == (not self._clear.is_set()):
            return
        CREATES_HELD.set(int(behind))
        if behind:
            self._clear.clear()
            log.info("relay behind: holding creates")
        else:
            self._clear.set()
            log.info("relay caught up: creates go on")
