"""Group commit: concurrent creates share statements, and fail or succeed together."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Collection, Sequence

import asyncpg

from service.domain.accounts import Principal
from service.persistence.database import Database
from service.persistence.oauth_apps import NewApp
from service.usecases.group_commit import MAX_BATCH, AppWriter, insert_in_autocommit
from tests.unit.usecases.fakes import new_app_row

ACTOR = Principal("JFTcMhEAFbNPfnp49", "math.bar").actor


def new_app(n: int) -> NewApp:
    return new_app_row(f"app {n}")


async def test_concurrent_creates_share_statements(
    database: Database, db: asyncpg.Connection
) -> None:
    batches: list[int] = []
    real = insert_in_autocommit(database)

    async def counting(rows: Sequence[NewApp]) -> Collection[str]:
        batches.append(len(rows))
        return await real(rows)

    writer = AppWriter(counting)
    writer.start()
    try:
        await asyncio.gather(*(writer.write(new_app(n)) for n in range(200)))
    finally:
        await writer.close()
    assert sum(batches) == 200 and len(batches) < 200 and max(batches) <= MAX_BATCH
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 200
    assert await db.fetchval("SELECT count(*) FROM outbox") == 200
    names = await db.fetch(
        "SELECT o.payload->'data'->'application'->>'name' AS name, a.name AS app"
        " FROM outbox o JOIN oauth_apps a ON a.id = o.aggregate_id"
    )
    assert all(row["name"] == row["app"] for row in names)  # each event belongs to its app


async def test_a_failing_row_fails_its_batch_and_writes_none_of_it(
    database: Database, db: asyncpg.Connection
) -> None:
    writer = AppWriter(insert_in_autocommit(database))
    writer.start()
    try:
        await writer.write(new_app(0))
        existing = await db.fetchval("SELECT event_id FROM outbox")
        clash = new_app(1)
        clash = dataclasses.replace(clash, event=dataclasses.replace(clash.event, id=existing))
        results = await asyncio.gather(
            *(writer.write(row) for row in [new_app(2), clash, new_app(3)]),
            return_exceptions=True,
        )
    finally:
        await writer.close()
    failed = [r for r in results if isinstance(r, Exception)]
    assert failed, results
    written = await db.fetchval("SELECT count(*) FROM oauth_apps")
    assert written == 1 + (3 - len(failed))  # what failed left no row
    assert await db.fetchval("SELECT count(*) FROM outbox") == written
