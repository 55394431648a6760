"""Group commit: concurrent creates share statements, and fail or succeed together."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from service.domain.accounts import Principal
from service.domain.events import EventType, app_event
from service.domain.oauth_app import OAuthApp, utc_now
from service.persistence import app_writer, apps
from service.persistence.app_writer import AppWriter
from service.persistence.apps import NewApp
from service.persistence.database import Database

ACTOR = Principal("JFTcMhEAFbNPfnp49", "math.bar").actor


def new_app(n: int) -> NewApp:
    now = utc_now()
    app = OAuthApp(
        id=f"{n:024x}",
        name=f"app {n}",
        redirect_uri="https://a.test",
        active=True,
        client_id=f"{n:017d}",
        created_at=now,
        updated_at=now,
        created_by=ACTOR,
    )
    return NewApp(app, "h" * 44, app_event(EventType.CREATED, app, ACTOR, now), None)


async def test_concurrent_creates_share_statements(
    database: Database, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    real = apps.insert_apps_with_events

    async def counting(connection: AsyncConnection, rows: Sequence[NewApp]) -> None:
        batches.append(len(rows))
        await real(connection, rows)

    monkeypatch.setattr(app_writer, "insert_apps_with_events", counting)
    writer = AppWriter(database)
    try:
        await asyncio.gather(*(writer.write(new_app(n)) for n in range(200)))
    finally:
        await writer.close()
    assert sum(batches) == 200 and len(batches) < 200 and max(batches) <= app_writer.MAX_BATCH
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
    writer = AppWriter(database)
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
