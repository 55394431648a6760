"""The relay's housekeeping on the outbox and on idempotency keys."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from service.persistence import idempotency, outbox
from service.persistence.database import Database


async def test_published_events_are_purged_after_retention(
    database: Database, db: asyncpg.Connection
) -> None:
    await db.execute(
        "INSERT INTO outbox (event_id, event_type, aggregate_id, payload, created_at, published_at)"
        " SELECT gen_random_uuid(), 'oauth_app.created', app, '{}', created, published"
        " FROM (VALUES ('a', now(), now() - interval '8 days'),"
        "              ('b', now(), now() - interval '1 day'),"
        "              ('c', now() - interval '9 days', NULL)) AS rows (app, created, published)"
    )
    async with database.autocommit.connect() as connection:
        assert await outbox.purge_published(connection, timedelta(days=7)) == 1
        count, age = await outbox.backlog(connection)
    assert await db.fetchval(
        "SELECT array_agg(aggregate_id ORDER BY aggregate_id) FROM outbox"
    ) == ["b", "c"]
    assert count == 1 and age > 8 * 86400  # an unpublished event is never purged


async def test_expired_idempotency_keys_are_purged(
    database: Database, db: asyncpg.Connection
) -> None:
    await db.execute(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, created_at, expires_at)"
        " VALUES ('u', 'old', 'f', 'done', now() - interval '2 days', now() - interval '1 day'),"
        " ('u', 'new', 'f', 'done', now(), now() + interval '1 day')"
    )
    async with database.autocommit.connect() as connection:
        assert await idempotency.purge_expired(connection) == 1
    assert await db.fetchval("SELECT key FROM idempotency_keys") == "new"
