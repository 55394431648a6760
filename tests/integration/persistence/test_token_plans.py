"""The token endpoint's batched statements keep index lookups in plans made on a small table.

A prepared statement's generic plan outlives the statistics it was made with: a plan
that scanned ``oauth_tokens`` whole while it held a few hundred rows went on doing so
at a hundred thousand (8 ms a batch) until the next ANALYZE.
"""

from __future__ import annotations

import json

import asyncpg
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

from service.persistence.oauth2 import tokens as oauth2


def positional_sql(statement: ClauseElement) -> str:
    return str(statement.compile(dialect=postgresql.asyncpg.dialect()))


async def cached_generic_plan(db: asyncpg.Connection, statement: ClauseElement, batch: str) -> str:
    """The plan PostgreSQL keeps for the statement after five executions, as drivers prepare it."""
    await db.execute(f"PREPARE batched (jsonb) AS {positional_sql(statement)}")
    literal = batch.replace("'", "''")
    for _ in range(6):  # the sixth execution weighs the generic plan against custom ones
        await db.execute(f"EXECUTE batched ('{literal}')")
    plan = await db.fetch(f"EXPLAIN EXECUTE batched ('{literal}')")
    await db.execute("DEALLOCATE batched")
    return "\n".join(row[0] for row in plan)


async def small_table(db: asyncpg.Connection) -> None:
    await db.execute(
        "INSERT INTO users (id, username, password_hash) VALUES ('u', 'math.bar', 'x');"
        "INSERT INTO oauth_apps (id, client_id, client_secret_hash, name, redirect_uri, active,"
        " created_at, updated_at, created_by_id, created_by_username)"
        " VALUES ('app', 'client', 'h', 'App', 'https://c.test/cb', true, now(), now(), 'u', 'm');"
        "INSERT INTO oauth_grants (id, app_id, user_id, created_at)"
        " VALUES ('g', 'app', 'u', now());"
        "INSERT INTO oauth_tokens (token_hash, kind, grant_id, family, created_at, expires_at)"
        " SELECT 'r' || n, 'refresh', 'g', 'f' || n, now(), now() + interval '1 day'"
        " FROM generate_series(1, 500) AS n"
    )
    await db.execute("ANALYZE oauth_tokens")


async def test_lookups_use_the_primary_key_in_a_plan_made_on_a_small_table(
    db: asyncpg.Connection,
) -> None:
    await small_table(db)
    plan = await cached_generic_plan(db, oauth2._TOKENS_BY_HASHES, json.dumps(["r1", "r2"]))
    assert "Seq Scan on oauth_tokens" not in plan
    assert "Index Scan using pk_oauth_tokens" in plan


async def test_rotations_lock_through_the_primary_key_in_a_plan_made_on_a_small_table(
    db: asyncpg.Connection,
) -> None:
    await small_table(db)
    rotation = {
        "n": 0,
        "refresh_hash": "r1",
        "client_id": "client",
        "access_hash": "a-new",
        "access_expires_at": "2999-01-01T00:00:00+00:00",
        "new_refresh_hash": "r-new",
        "refresh_expires_at": "2999-01-01T00:00:00+00:00",
        "now": "2026-01-01T00:00:00+00:00",
    }
    plan = await cached_generic_plan(db, oauth2._ROTATE, json.dumps([rotation]))
    # The tokens are locked one by one through the primary key, in hash order.
    locking = plan[plan.index("CTE locked") : plan.index("CTE used")]
    assert "Seq Scan on oauth_tokens" not in locking
    assert "Index Scan using pk_oauth_tokens" in locking
