"""Housekeeping: scheduled purges in small batches, and the exact count of apps."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from service.config import Settings
from service.persistence import idempotency, oauth2, outbox, processed_events
from service.persistence.database import Database, asyncpg_dsn


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
        assert await outbox.purge_published(connection, timedelta(days=7), 100) == 1
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
        assert await idempotency.purge_expired(connection, 100) == 1
    assert await db.fetchval("SELECT key FROM idempotency_keys") == "new"


async def test_purges_go_in_batches(database: Database, db: asyncpg.Connection) -> None:
    await db.execute(
        "INSERT INTO outbox (event_id, event_type, aggregate_id, payload, created_at, published_at)"
        " SELECT gen_random_uuid(), 'oauth_app.created', 'a', '{}', now(), now() - interval '8d'"
        " FROM generate_series(1, 5)"
    )
    await db.execute(
        "INSERT INTO processed_events (consumer, event_id, processed_at)"
        " SELECT 'audit', gen_random_uuid(), now() - interval '8 days' * (g % 2)"
        " FROM generate_series(1, 6) AS g"
    )
    week = timedelta(days=7)
    async with database.autocommit.connect() as connection:
        assert await outbox.purge_published(connection, week, 2) == 2
        assert await outbox.purge_published(connection, week, 2) == 2
        assert await outbox.purge_published(connection, week, 2) == 1
        assert await processed_events.purge_older_than(connection, week, 2) == 2
        assert await processed_events.purge_older_than(connection, week, 2) == 1
        assert await processed_events.purge_older_than(connection, week, 2) == 0
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    assert await db.fetchval("SELECT count(*) FROM processed_events") == 3  # the recent marks


async def test_outbox_purge_looks_only_at_the_oldest_events(
    database: Database, db: asyncpg.Connection
) -> None:
    # Recent events at the head hide older ones behind them until they age in turn:
    # the price of never scanning the whole outbox.
    await db.execute(
        "INSERT INTO outbox (event_id, event_type, aggregate_id, payload, created_at, published_at)"
        " SELECT gen_random_uuid(), 'oauth_app.created', 'a', '{}', now(), published"
        " FROM (VALUES (now()), (now()), (now() - interval '8 days')) AS rows (published)"
    )
    async with database.autocommit.connect() as connection:
        assert await outbox.purge_published(connection, timedelta(days=7), 2) == 0
        assert await outbox.purge_published(connection, timedelta(days=7), 3) == 1


async def test_expired_codes_tokens_and_sessions_are_purged(
    database: Database, db: asyncpg.Connection
) -> None:
    await db.execute("INSERT INTO users (id, username, password_hash) VALUES ('u', 'u', 'h')")
    await db.execute(
        "INSERT INTO web_sessions (session_hash, user_id, csrf_token, expires_at)"
        " VALUES ('old', 'u', 'c', now() - interval '1 second'),"
        " ('new', 'u', 'c', now() + interval '1 hour')"
    )
    async with database.autocommit.connect() as connection:
        assert await dict(oauth2.PURGES)["web_sessions"](connection, 10) == 1
    assert await db.fetchval("SELECT session_hash FROM web_sessions") == "new"


async def test_app_count_follows_every_insert_delete_and_truncate(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async def counted() -> int:
        return int(await db.fetchval("SELECT coalesce(sum(apps), 0) FROM oauth_app_counts"))

    insert = (
        "INSERT INTO oauth_apps (id, client_id, client_secret_hash, name, redirect_uri, active,"
        " created_at, updated_at, created_by_id, created_by_username)"
        " SELECT 'app' || g || $1, 'c' || g || $1, 'h', 'n', 'u', true, now(), now(), 'u', 'u'"
        " FROM generate_series(1, $2) AS g"
    )
    # Several sessions at once land in several slots; the sum stays exact.
    pool = await asyncpg.create_pool(asyncpg_dsn(settings.database_url), min_size=4, max_size=4)
    async with pool:
        await asyncio.gather(*(pool.execute(insert, f"-{n}", 25) for n in range(8)))
    assert await counted() == 200 == await db.fetchval("SELECT count(*) FROM oauth_apps")
    await db.execute("DELETE FROM oauth_apps WHERE id LIKE 'app1%'")
    assert await counted() == await db.fetchval("SELECT count(*) FROM oauth_apps")
    await db.execute("TRUNCATE oauth_apps CASCADE")
    assert await counted() == 0
