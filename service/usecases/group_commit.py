"""Group commit for registrations: concurrent creates share one statement and one commit.

A create waits for its own row to be committed, exactly as alone; what changes is that
the creates queued while a statement runs go out together in the next one. At low
load a batch holds one create and nothing waits; under load PostgreSQL does one
statement, one commit and one outbox notification per batch instead of per app. If a
statement fails, every create in it fails (none of them is half-written). Before each
statement the writer awaits ``before_write``, through which the API holds creates while
the relay is behind (``back_pressure.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence

from service.domain.errors import ReservationLost
from service.persistence import oauth_apps
from service.persistence.database import Database
from service.persistence.oauth_apps import NewApp

MAX_BATCH = 100
WRITERS = 4  # statements in flight at once

# Writes a batch; returns the ids of the apps it wrote.
WriteBatch = Callable[[Sequence[NewApp]], Awaitable[Collection[str]]]


def insert_in_autocommit(database: Database) -> WriteBatch:
    """Write a batch as one statement in autocommit: atomic, and a single round trip."""

    async def write(rows: Sequence[NewApp]) -> set[str]:
        async with database.autocommit.connect() as connection:
            return await oauth_apps.insert_apps_with_events(connection, rows)

    return write


class AppWriter:
    """Queues new apps and writes them in batches between ``start`` and ``close``."""

    def __init__(
        self, write_batch: WriteBatch, before_write: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._write_batch = write_batch
        self._before_write = before_write
        self._queue: deque[tuple[NewApp, asyncio.Future[None]]] = deque()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the tasks that write batches."""
        self._tasks = [
            asyncio.create_task(self._write_batches(), name=f"group-commit-{n}")
            for n in range(WRITERS)
        ]

    async def write(self, row: NewApp) -> None:
        """Return once ``row`` is committed; raise what the statement raised.

        Raise ``ReservationLost`` when the statement skipped the row because another
        request took its idempotency reservation over.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((row, future))
        self._ready.set()
        await future

    async def close(self) -> None:
        """Stop the writers; called after the last request finished, so nothing waits."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _write_batches(self) -> None:
        while True:
            await self._ready.wait()
            if self._before_write is not None:
                await self._before_write()
            batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
            if not self._queue:
                self._ready.clear()
            if not batch:
                continue
            try:
                written = await self._write_batch([row for row, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for row, future in batch:
                    if future.done():
                        continue
                    if row.oauth_app.id in written:
                        future.set_result(None)
                    else:
                        future.set_exception(
                            ReservationLost("Another request took this Idempotency-Key over")
                        )
