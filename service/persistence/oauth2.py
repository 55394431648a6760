"""Grants, codes, tokens and login sessions of the authorization server (hashes only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.persistence.database import delete_batch
from service.persistence.models import (
    OAuthAppRow,
    OAuthCode,
    OAuthGrant,
    OAuthToken,
    User,
    WebSession,
)


@dataclass(frozen=True, slots=True)
class Client:
    """A registered app as a client of the authorization server."""

    app_id: str
    client_id: str
    name: str
    redirect_uri: str
    active: bool
    secret_hash: str


@dataclass(frozen=True, slots=True)
class Grant:
    """A live grant, with the app and user it joins."""

    id: str
    app_id: str
    client_id: str
    user_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredCode:
    """An authorization code as stored."""

    grant: Grant
    redirect_uri: str
    redirect_uri_sent: bool
    code_challenge: str | None
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token as stored, with its grant, app and user."""

    kind: str
    grant: Grant
    family: str
    username: str
    email: str | None
    app_active: bool
    user_active: bool
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


async def find_client(session: AsyncSession | AsyncConnection, client_id: str) -> Client | None:
    """The app whose ``clientId`` this is."""
    row = (
        await session.execute(
            select(
                OAuthAppRow.id,
                OAuthAppRow.client_id,
                OAuthAppRow.name,
                OAuthAppRow.redirect_uri,
                OAuthAppRow.active,
                OAuthAppRow.client_secret_hash,
            ).where(OAuthAppRow.client_id == client_id)
        )
    ).first()
    return None if row is None else Client(*row)


_GRANT_COLUMNS = (
    OAuthGrant.id,
    OAuthGrant.app_id,
    OAuthAppRow.client_id,
    OAuthGrant.user_id,
    OAuthGrant.created_at,
)


async def live_grant(session: AsyncSession, app_id: str, user_id: str) -> Grant | None:
    """The user's unrevoked grant of this app, if any."""
    row = (
        await session.execute(
            select(*_GRANT_COLUMNS)
            .join(OAuthAppRow, OAuthAppRow.id == OAuthGrant.app_id)
            .where(
                OAuthGrant.app_id == app_id,
                OAuthGrant.user_id == user_id,
                OAuthGrant.revoked_at.is_(None),
            )
        )
    ).first()
    return None if row is None else Grant(*row)


async def live_grants_of_app(session: AsyncSession, app_id: str) -> list[Grant]:
    """Every unrevoked grant of an app."""
    rows = await session.execute(
        select(*_GRANT_COLUMNS)
        .join(OAuthAppRow, OAuthAppRow.id == OAuthGrant.app_id)
        .where(OAuthGrant.app_id == app_id, OAuthGrant.revoked_at.is_(None))
    )
    return [Grant(*row) for row in rows]


async def insert_grant(session: AsyncSession, grant: Grant) -> None:
    """Record a new grant."""
    await session.execute(
        insert(OAuthGrant).values(
            id=grant.id, app_id=grant.app_id, user_id=grant.user_id, created_at=grant.created_at
        )
    )


async def revoke_grant(session: AsyncSession, grant_id: str, now: datetime) -> bool:
    """Revoke a grant and every token of it; return whether it was live."""
    revoked = await session.scalar(
        update(OAuthGrant)
        .where(OAuthGrant.id == grant_id, OAuthGrant.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(OAuthGrant.id)
    )
    await _revoke_tokens(session, OAuthToken.grant_id == grant_id, now)
    return revoked is not None


async def _revoke_tokens(session: AsyncSession, which: ColumnElement[bool], now: datetime) -> None:
    await session.execute(
        update(OAuthToken).where(which, OAuthToken.revoked_at.is_(None)).values(revoked_at=now)
    )


async def insert_code(
    session: AsyncSession, code_hash: str, grant_id: str, code: StoredCode
) -> None:
    """Store a new authorization code's hash."""
    await session.execute(
        insert(OAuthCode).values(
            code_hash=code_hash,
            grant_id=grant_id,
            redirect_uri=code.redirect_uri,
            redirect_uri_sent=code.redirect_uri_sent,
            code_challenge=code.code_challenge,
            expires_at=code.expires_at,
        )
    )


async def take_code(session: AsyncSession, code_hash: str, now: datetime) -> StoredCode | None:
    """Return the code (locked until commit) and mark it used; it stays for reuse detection."""
    row = (
        await session.execute(
            select(
                *_GRANT_COLUMNS,
                OAuthCode.redirect_uri,
                OAuthCode.redirect_uri_sent,
                OAuthCode.code_challenge,
                OAuthCode.expires_at,
                OAuthCode.used_at,
            )
            .join(OAuthGrant, OAuthGrant.id == OAuthCode.grant_id)
            .join(OAuthAppRow, OAuthAppRow.id == OAuthGrant.app_id)
            .where(OAuthCode.code_hash == code_hash)
            .with_for_update(of=OAuthCode)
        )
    ).first()
    if row is None:
        return None
    await session.execute(
        update(OAuthCode)
        .where(OAuthCode.code_hash == code_hash, OAuthCode.used_at.is_(None))
        .values(used_at=now)
    )
    return StoredCode(
        grant=Grant(*row[:5]),
        redirect_uri=row[5],
        redirect_uri_sent=row[6],
        code_challenge=row[7],
        expires_at=row[8],
        used_at=row[9],
    )


async def insert_token(
    session: AsyncSession,
    token_hash: str,
    *,
    kind: str,
    grant_id: str,
    family: str,
    code_hash: str | None,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    """Store a new token's hash."""
    await session.execute(
        insert(OAuthToken).values(
            token_hash=token_hash,
            kind=kind,
            grant_id=grant_id,
            family=family,
            code_hash=code_hash,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


async def revoke_issued_from_code(session: AsyncSession, code_hash: str, now: datetime) -> None:
    """Revoke every token descended from a code (its families), after the code's reuse."""
    families = select(OAuthToken.family).where(OAuthToken.code_hash == code_hash)
    await _revoke_tokens(session, OAuthToken.family.in_(families), now)


async def revoke_family(session: AsyncSession, family: str, now: datetime) -> None:
    """Revoke every token of a refresh family (rotation, reuse, or revocation)."""
    await _revoke_tokens(session, OAuthToken.family == family, now)


@dataclass(frozen=True, slots=True)
class Rotation:
    """A refresh token exchanged for a new pair: the new tokens' hashes and expiries."""

    refresh_hash: str
    client_id: str
    access_hash: str
    access_expires_at: datetime
    new_refresh_hash: str
    refresh_expires_at: datetime
    now: datetime


# A batch of rotations in ONE statement, so that in autocommit it is one round trip and
# one commit: each refresh token is used (and retired) only if it is live and its
# client's, user's and grant's; its family's older tokens are retired; the new pair
# joins the family. Retired tokens leave the (family) partial index, so a long chain
# costs nothing. The tokens are locked in one order (``locked``), so that two batches
# that share tokens wait for each other instead of deadlocking; a token presented
# twice is used once (``used`` updates a row once), and the other presentation then
# finds it used, as does a concurrent batch that waited on the row.
#
# The batch is one JSON parameter, not one array per column: unnest()'s row estimate
# depends on the arrays' lengths, so PostgreSQL planned the statement anew on every
# call (0.5 ms, more than the rotation itself); jsonb_to_recordset()'s estimate is
# fixed, and the prepared statement keeps its generic plan. That plan outlives the
# statistics it was made with, so ``locked`` finds each token on its own (a LATERAL
# subquery, in hash order): a join of the batch with the table, planned while the
# table was small, went on scanning it whole once it was large (8 ms a batch at
# 100,000 tokens). ``used`` is still planned as a join: on a table of a few hundred
# rows a scan is cheaper, and that plan lasts until the next ANALYZE (autovacuum's,
# within a minute, at the settings of migration 0010).
_ROTATE = text(
    """
    WITH batch AS (
        SELECT * FROM jsonb_to_recordset(:batch) AS b (
            n int, refresh_hash varchar, client_id varchar, access_hash varchar,
            access_expires_at timestamptz, new_refresh_hash varchar,
            refresh_expires_at timestamptz, now timestamptz)
    ), locked AS (
        SELECT t.token_hash
        FROM (SELECT refresh_hash FROM batch ORDER BY refresh_hash) AS b,
             LATERAL (SELECT token_hash FROM oauth_tokens
                      WHERE token_hash = b.refresh_hash FOR UPDATE) AS t
    ), used AS (
        UPDATE oauth_tokens AS t SET used_at = b.now, revoked_at = b.now
        FROM batch AS b, oauth_grants AS g, oauth_apps AS a, users AS u
        WHERE t.token_hash IN (SELECT token_hash FROM locked)
          AND t.token_hash = b.refresh_hash AND t.kind = 'refresh'
          AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > b.now
          AND g.id = t.grant_id AND g.revoked_at IS NULL
          AND a.id = g.app_id AND a.client_id = b.client_id AND a.active
          AND u.id = g.user_id AND u.active
        RETURNING b.n, t.token_hash, t.grant_id, t.family
    ), retired AS (
        UPDATE oauth_tokens AS t SET revoked_at = b.now
        FROM used JOIN batch AS b ON b.n = used.n
        WHERE t.family = used.family AND t.revoked_at IS NULL
          AND t.token_hash <> used.token_hash
    ), issued AS (
        INSERT INTO oauth_tokens (token_hash, kind, grant_id, family, created_at, expires_at)
        SELECT new.token_hash, new.kind, used.grant_id, used.family, b.now, new.expires_at
        FROM used JOIN batch AS b ON b.n = used.n,
             LATERAL (VALUES (b.access_hash, 'access', b.access_expires_at),
                             (b.new_refresh_hash, 'refresh', b.refresh_expires_at))
             AS new (token_hash, kind, expires_at)
    )
    SELECT n FROM used
    """
).bindparams(bindparam("batch", type_=JSONB))


async def rotate_refresh_tokens(
    connection: AsyncConnection, rotations: Sequence[Rotation]
) -> list[bool]:
    """Exchange each live refresh token for its new pair; for each, whether it was.

    Nothing is written for a rotation answered False.
    """
    batch = [{"n": n} | asdict(rotation) for n, rotation in enumerate(rotations)]
    rotated = set((await connection.execute(_ROTATE, {"batch": batch})).scalars())
    return [n in rotated for n in range(len(rotations))]


async def revoke_token(session: AsyncSession, token_hash: str, now: datetime) -> None:
    """Revoke one token."""
    await _revoke_tokens(session, OAuthToken.token_hash == token_hash, now)


# Built once: the statement's cache key is then computed once, not on every request.
_TOKENS = (
    select(
        OAuthToken.token_hash,
        OAuthToken.kind,
        *_GRANT_COLUMNS,
        OAuthToken.family,
        User.username,
        User.email,
        OAuthAppRow.active,
        User.active,
        OAuthToken.created_at,
        OAuthToken.expires_at,
        OAuthToken.used_at,
        func.coalesce(OAuthToken.revoked_at, OAuthGrant.revoked_at),
    )
    .join(OAuthGrant, OAuthGrant.id == OAuthToken.grant_id)
    .join(OAuthAppRow, OAuthAppRow.id == OAuthGrant.app_id)
    .join(User, User.id == OAuthGrant.user_id)
)
_TOKEN_BY_HASH = _TOKENS.where(OAuthToken.token_hash == bindparam("token_hash"))
_TOKEN_BY_HASH_LOCKED = _TOKEN_BY_HASH.with_for_update(of=OAuthToken)
# The hashes come as one JSON array, like a batch of rotations (see ``_ROTATE``), and
# each is looked up on its own (a LATERAL subquery with LIMIT is planned per hash):
# joined as a set, a plan made while the table was small kept scanning it whole.
_WANTED = (
    func.jsonb_array_elements_text(bindparam("token_hashes", type_=JSONB))
    .table_valued("token_hash")
    .render_derived("wanted")
)
_TOKEN_PER_HASH = (
    _TOKENS.where(OAuthToken.token_hash == _WANTED.c.token_hash)
    .limit(literal_column("1"))
    .lateral("token")
)
_TOKENS_BY_HASHES = select(_TOKEN_PER_HASH).select_from(_WANTED.join(_TOKEN_PER_HASH, true()))


def _stored_token(row: Row[*tuple[Any, ...]]) -> StoredToken:
    return StoredToken(
        kind=row[1],
        grant=Grant(*row[2:7]),
        family=row[7],
        username=row[8],
        email=row[9],
        app_active=row[10],
        user_active=row[11],
        created_at=row[12],
        expires_at=row[13],
        used_at=row[14],
        revoked_at=row[15],
    )


async def find_token(
    session: AsyncSession | AsyncConnection, token_hash: str, *, lock: bool = False
) -> StoredToken | None:
    """The token with this hash, with its grant's app and user."""
    statement = _TOKEN_BY_HASH_LOCKED if lock else _TOKEN_BY_HASH
    row = (await session.execute(statement, {"token_hash": token_hash})).first()
    return None if row is None else _stored_token(row)


async def find_tokens(
    connection: AsyncConnection, token_hashes: Sequence[str]
) -> dict[str, StoredToken]:
    """The tokens with these hashes (those that exist), by hash."""
    rows = await connection.execute(_TOKENS_BY_HASHES, {"token_hashes": list(token_hashes)})
    return {row[0]: _stored_token(row) for row in rows}


async def count_live_grants(connection: AsyncConnection) -> int:
    """How many grants are not revoked (a gauge)."""
    return int(
        await connection.scalar(
            select(func.count()).select_from(OAuthGrant).where(OAuthGrant.revoked_at.is_(None))
        )
        or 0
    )


async def insert_session(
    session: AsyncSession, session_hash: str, user_id: str, csrf_token: str, expires_at: datetime
) -> None:
    """Store a login session of the authorization pages."""
    row = {"session_hash": session_hash, "user_id": user_id, "csrf_token": csrf_token}
    await session.execute(insert(WebSession).values(row | {"expires_at": expires_at}))


async def find_session(session: AsyncSession, session_hash: str) -> tuple[str, str] | None:
    """``(user id, CSRF token)`` of a live session of an active user."""
    row = (
        await session.execute(
            select(WebSession.user_id, WebSession.csrf_token)
            .join(User, User.id == WebSession.user_id)
            .where(
                WebSession.session_hash == session_hash,
                WebSession.expires_at > func.now(),
                User.active.is_(True),
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


EXPIRING_TABLES = ("oauth_codes", "oauth_tokens", "web_sessions")


async def purge_expired(connection: AsyncConnection, table: str, limit: int) -> int:
    """Delete up to ``limit`` expired rows of one of ``EXPIRING_TABLES``; return how many."""
    assert table in EXPIRING_TABLES
    return await delete_batch(
        connection,
        table,
        f"SELECT ctid FROM {table} WHERE expires_at < now() LIMIT :limit",  # noqa: S608
        limit,
    )
