"""Back-pressure from the outbox, against the real database."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from service.persistence.database import Database
from service.usecases.back_pressure import OutboxPressure, PressureConfig

CONFIG = PressureConfig(max_lag=0.1, stall_after=0.6, poll_interval=0.02, max_hold=0.4)


async def add_events(db: asyncpg.Connection, count: int, age_seconds: float) -> None:
    await db.execute(
        "INSERT INTO outbox (event_id, event_type, aggregate_id, payload, created_at)"
        " SELECT gen_random_uuid(), 'oauth_app.created', 'app' || n, '{}',"
        " now() - make_interval(secs => $2)"
        " FROM generate_series(1, $1) AS n",
        count,
        age_seconds,
    )


async def publish_oldest(db: asyncpg.Connection) -> None:
    await db.execute(
        "UPDATE outbox SET published_at = now()"
        " WHERE seq = (SELECT min(seq) FROM outbox WHERE published_at IS NULL)"
    )


async def held_for(pressure: OutboxPressure) -> float:
    started = time.monotonic()
    await pressure.wait()
    return time.monotonic() - started


async def test_creates_are_held_while_the_relay_publishes_but_lags(
    database: Database, db: asyncpg.Connection
) -> None:
    await add_events(db, 50, age_seconds=1.0)
    pressure = OutboxPressure(database, CONFIG)
    pressure.start()
    try:
        deadline = time.monotonic() + 5
        held = 0.0
        while held < CONFIG.max_hold * 0.9:  # the relay publishes, one event at a time
            assert time.monotonic() < deadline, "creates were never held"
            await publish_oldest(db)
            held = await held_for(pressure)
        assert held <= CONFIG.max_hold + 0.1  # held, but never longer than max_hold
        # The relay catches up: creates go through at once.
        await db.execute("UPDATE outbox SET published_at = now()")
        await asyncio.sleep(CONFIG.poll_interval * 5)
        assert await held_for(pressure) < 0.05
    finally:
        await pressure.close()


async def test_creates_are_not_held_while_the_relay_makes_no_progress(
    database: Database, db: asyncpg.Connection
) -> None:
    await add_events(db, 50, age_seconds=30.0)  # the broker is down, say
    pressure = OutboxPressure(database, CONFIG)
    pressure.start()
    try:
        await asyncio.sleep(CONFIG.stall_after + CONFIG.poll_interval * 5)
        for _ in range(3):
            assert await held_for(pressure) < 0.05
    finally:
        await pressure.close()
