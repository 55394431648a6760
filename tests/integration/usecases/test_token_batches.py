"""Batched token statements: each rotation or lookup of a batch is answered on its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import asyncpg
import pytest

from service.domain.oauth2.tokens import Rotation
from service.domain.timestamps import utc_now
from service.persistence.database import Database
from service.persistence.oauth2 import tokens as oauth2
from service.usecases.token_batches import TokenBatches

GRANTS = ("g1", "g2", "g3")


@pytest.fixture
async def tokens(db: asyncpg.Connection) -> AsyncIterator[None]:
    """Two apps (one inactive), two users, three grants; a live pair per grant (r1/a1 ...)."""
    await db.execute(
        "INSERT INTO users (id, username, password_hash)"
        " VALUES ('u', 'math.bar', 'x'), ('v', 'bob', 'x');"
        "INSERT INTO oauth_apps (id, client_id, client_secret_hash, name, redirect_uri, active,"
        " created_at, updated_at, created_by_id, created_by_username)"
        " VALUES ('app', 'client', 'h', 'App', 'https://c.test/cb', true, now(), now(), 'u', 'm'),"
        " ('off', 'client-off', 'h', 'Off', 'https://c.test/cb', false, now(), now(), 'u', 'm');"
        "INSERT INTO oauth_grants (id, app_id, user_id, created_at)"
        " VALUES ('g1', 'app', 'u', now()), ('g2', 'app', 'v', now()), ('g3', 'off', 'u', now());"
        "INSERT INTO oauth_tokens (token_hash, kind, grant_id, family, created_at, expires_at)"
        " SELECT prefix || substr(g, 2), kind, g, 'f' || substr(g, 2), now(),"
        "        now() + interval '1 hour'"
        " FROM unnest(ARRAY['g1', 'g2', 'g3']) AS g,"
        "      (VALUES ('r', 'refresh'), ('a', 'access')) AS k (prefix, kind)"
    )
    yield


def rotation(refresh_hash: str, n: int, client_id: str = "client") -> Rotation:
    now = utc_now()
    return Rotation(
        refresh_hash=refresh_hash,
        client_id=client_id,
        access_hash=f"new-a{n}",
        access_expires_at=now + timedelta(hours=1),
        new_refresh_hash=f"new-r{n}",
        refresh_expires_at=now + timedelta(days=30),
        now=now,
    )


async def live(db: asyncpg.Connection) -> list[str]:
    rows = await db.fetch(
        "SELECT token_hash FROM oauth_tokens WHERE revoked_at IS NULL ORDER BY token_hash"
    )
    return [row["token_hash"] for row in rows]


async def test_one_statement_rotates_each_live_token_and_refuses_the_rest(
    database: Database, db: asyncpg.Connection, tokens: None
) -> None:
    batch = [
        rotation("r1", 0),
        rotation("r2", 1, client_id="someone-else"),  # another client's token
        rotation("r3", 2, client_id="client-off"),  # its app is inactive
        rotation("a1", 3),  # not a refresh token
        rotation("unknown", 4),
        rotation("r1", 5),  # the same token twice in one batch: used once
    ]
    async with database.autocommit.connect() as connection:
        rotated = [
            found is not None for found in await oauth2.rotate_refresh_tokens(connection, batch)
        ]
    # One of r1's two presentations won (which one is the plan's choice); no other.
    assert rotated[1:5] == [False] * 4 and rotated[0] != rotated[5]
    winner = 0 if rotated[0] else 5
    # r1's family: the old pair retired, the new pair live; nothing else changed.
    assert await live(db) == sorted(["a2", "a3", f"new-a{winner}", f"new-r{winner}", "r2", "r3"])
    family = await db.fetchval(
        "SELECT family FROM oauth_tokens WHERE token_hash = $1", f"new-r{winner}"
    )
    assert family == "f1"


async def test_concurrent_rotations_and_lookups_through_the_batches(
    database: Database, db: asyncpg.Connection, tokens: None
) -> None:
    statements: list[int] = []
    batches = TokenBatches(database)
    real = oauth2.find_tokens

    async def counting(connection: object, token_hashes: Sequence[str]) -> object:
        statements.append(len(token_hashes))
        return await real(connection, token_hashes)  # type: ignore[arg-type]

    batches.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(oauth2, "find_tokens", counting)
            found = await asyncio.gather(
                *(batches.look_up(token_hash) for token_hash in ("a1", "r2", "nothing") * 10)
            )
        rotated = [
            answer is not None
            for answer in await asyncio.gather(
                batches.rotate(rotation("r1", 0)),
                batches.rotate(rotation("r2", 1)),
                batches.rotate(rotation("r1", 2)),  # a replay racing the first
            )
        ]
    finally:
        await batches.close()
    assert [token.kind if token else None for token in found[:3]] == ["access", "refresh", None]
    assert found[0] is not None and found[0].grant.id == "g1"
    assert found[0].user is not None and found[0].user.username == "math.bar"
    assert sum(statements) == 30 and len(statements) < 30  # lookups shared statements
    assert sorted(rotated) == [False, True, True] and rotated[1] is True
    assert "new-r1" in await live(db)
