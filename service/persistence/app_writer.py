"""Group commit for creates: concurrent creates share one statement and one commit.

A create waits for its own row to be committed, exactly as before; what changes is
that the creates queued while a statement runs go out together in the next one. At
low load a batch holds one create and nothing waits; under load PostgreSQL does one
statement, one commit and one outbox notification per batch instead of per app. If a
statement fails, every create in it fails (none of them is half-written). Before each
statement the writer awaits ``before_write``, through which the API holds creates while
the relay is behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

from service.persistence.apps import NewApp, insert_apps_with_events
from service.persistence.database import Database

MAX_BATCH = 100
WRITERS = 4  # statements in flight at once


class AppWriter:
    """Queues new apps and writes them in batches until closed."""

    def __init__(
        self, database: Database, before_write: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._database = database
        self._before_write = before_write
        self._queue: deque[tuple[NewApp, asyncio.Future[None]]] = deque()
        self._ready = asyncio.Event()
        self._tasks = [asyncio.create_task(self._write_batches()) for _ in range(WRITERS)]

    async def write(self, row: NewApp) -> None:
        """Return once ``row`` is committed; raise what the statement raised."""
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
                async with self._database.autocommit.connect() as connection:
                    await insert_apps_with_events(connection, [row for row, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
