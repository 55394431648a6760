"""Scheduled purges: each context names its own expiring rows; the relay runs them all.

A purge step deletes at most ``limit`` rows and says how many it did, so that the
relay can go through every table in small steps between batches of events
(``events/relay.py``). The composition root (``bootstrap.py``) collects each
context's steps; the relay names no table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from service.persistence.database import delete_batch

# (connection, limit) -> rows deleted.
Purge = Callable[[AsyncConnection, int], Awaitable[int]]


def expired_rows_purge(table: str) -> Purge:
    """A purge of the rows of ``table`` whose ``expires_at`` has passed."""
    rows = f"SELECT ctid FROM {table} WHERE expires_at < now() LIMIT :limit"  # noqa: S608

    async def purge(connection: AsyncConnection, limit: int) -> int:
        return await delete_batch(connection, table, rows, limit)

    return purge
