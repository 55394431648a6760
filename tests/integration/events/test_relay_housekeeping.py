"""The relay works off a backlog of old rows step by step, between batches of events."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest

from service import bootstrap
from service.config import Settings
from service.events.relay import Relay, RelayConfig
from service.persistence.database import Database
from tests.support.waiting import eventually


async def test_old_rows_go_in_small_steps_and_one_line_says_how_many(
    settings: Settings,
    database: Database,
    db: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await db.execute(
        "INSERT INTO outbox (event_id, event_type, aggregate_id, payload, created_at, published_at)"
        " SELECT gen_random_uuid(), 'oauth_app.created', 'a', '{}', now(), now() - interval '8d'"
        " FROM generate_series(1, 25)"
    )
    await db.execute(
        "INSERT INTO processed_events (consumer, event_id, processed_at)"
        " SELECT 'audit', gen_random_uuid(), now() - interval '8 days' FROM generate_series(1, 7)"
    )
    deleted: list[int] = []

    def logged() -> list[logging.LogRecord]:
        return [record for record in caplog.records if record.getMessage() == "housekeeping"]

    async def round_done() -> bool:
        deleted.append(int(await db.fetchval("SELECT count(*) FROM outbox")))
        return bool(logged())

    relay = Relay(
        database,
        bootstrap.broker(settings),
        bootstrap.topology(settings),
        purges=bootstrap.housekeeping(RelayConfig().retention),
        config=RelayConfig(purge_batch=4, purge_pause=0.05),
    )
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="service.events.relay")
    task = asyncio.create_task(relay.run(stop))
    try:
        await eventually(round_done, timeout=20)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    assert await db.fetchval("SELECT count(*) FROM processed_events") == 0
    # Seen part-way (25 rows, 4 a step, a pause between steps): not one big delete.
    assert len(set(deleted)) > 2
    assert [line.fields for line in logged()] == [  # type: ignore[attr-defined]
        {
            "published_events": 25,
            "processed_marks": 7,
            "idempotency_keys": 0,
            "previous_secrets": 0,
            "oauth_codes": 0,
            "oauth_tokens": 0,
            "web_sessions": 0,
            "retired_signing_keys": 0,
            "spent_registration_tokens": 0,
        }
    ]
