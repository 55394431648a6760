"""Group commit for registrations: concurrent creates share one statement and one commit.

A create waits for its own row to be committed, exactly as alone (``batching.py`` tells
how batches form). Under load PostgreSQL does one statement, one commit and one outbox
notification per batch instead of per app. Before each statement the writer awaits
``before_write``, through which the API holds creates while the relay is behind
(``back_pressure.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence

from service.domain.errors import ReservationLost
from service.persistence import oauth_apps
from service.persistence.database import Database
from service.persistence.oauth_apps import NewApp
from service.usecases.batching import Batcher

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
        async def written(rows: Sequence[NewApp]) -> list[bool]:
            ids = await write_batch(rows)
            return [row.oauth_app.id in ids for row in rows]

        self._batcher = Batcher(
            written,
            name="group-commit",
            max_batch=MAX_BATCH,
            runners=WRITERS,
            before_run=before_write,
        )

    def start(self) -> None:
        """Start the tasks that write batches."""
        self._batcher.start()

    async def write(self, row: NewApp) -> None:
        """Return once ``row`` is committed; raise what the statement raised.

        Raise ``ReservationLost`` when the statement skipped the row because another
        request took its idempotency reservation over.
        """
        if not await self._batcher.submit(row):
            raise ReservationLost("Another request took this Idempotency-Key over")

    async def close(self) -> None:
        """Stop the writers; called after the last request finished, so nothing waits."""
        await self._batcher.close()
