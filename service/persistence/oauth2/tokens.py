"""Access and refresh tokens: stored hashed, rotated in batches, found with their grant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Row,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.oauth2.scopes import parse_scope
from service.domain.oauth2.tokens import (
    NewToken,
    Rotated,
    Rotation,
    StoredToken,
    TokenKind,
)
from service.persistence.models import OAuthAppRow, OAuthGrant, OAuthToken, User
from service.persistence.oauth2.grants import revoke_tokens
from service.persistence.oauth2.rows import (
    GRANT_COLUMNS,
    USER_COLUMNS,
    grant_from,
    scope_column,
    user_from,
)


async def insert_token(session: AsyncSession, token: NewToken) -> None:
    """Store a new token's hash."""
    await session.execute(
        insert(OAuthToken).values(
            token_hash=token.token_hash,
            kind=token.kind.value,
            grant_id=token.grant_id,
            family=token.family,
            code_hash=token.code_hash,
            scope=scope_column(token.scope),
            auth_time=token.auth_time,
            resource=token.resource,
            created_at=token.created_at,
            expires_at=token.expires_at,
        )
    )


async def revoke_issued_from_code(session: AsyncSession, code_hash: str, now: datetime) -> None:
    """Revoke every token descended from a code (its families), after the code's reuse."""
    families = select(OAuthToken.family).where(OAuthToken.code_hash == code_hash)
    await revoke_tokens(session, OAuthToken.family.in_(families), now)


async def revoke_family(session: AsyncSession, family: str, now: datetime) -> None:
    """Revoke every token of a refresh family (rotation, reuse, or revocation)."""
    await revoke_tokens(session, OAuthToken.family == family, now)


async def revoke_token(session: AsyncSession, token_hash: str, now: datetime) -> None:
    """Revoke one token."""
    await revoke_tokens(session, OAuthToken.token_hash == token_hash, now)


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
            refresh_expires_at timestamptz, now timestamptz, access_scope text,
            resource text)
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
        RETURNING b.n, t.token_hash, t.grant_id, t.family, t.scope, t.auth_time,
                  COALESCE(b.resource, t.resource) AS resource,
                  u.id AS user_id, u.username, u.email, u.email_verified,
                  u.updated_at AS user_updated_at
    ), retired AS (
        UPDATE oauth_tokens AS t SET revoked_at = b.now
        FROM used JOIN batch AS b ON b.n = used.n
        WHERE t.family = used.family AND t.revoked_at IS NULL
          AND t.token_hash <> used.token_hash
    ), issued AS (
        INSERT INTO oauth_tokens
            (token_hash, kind, grant_id, family, scope, auth_time, resource, created_at,
             expires_at)
        SELECT new.token_hash, new.kind, used.grant_id, used.family, new.scope,
               used.auth_time, used.resource, b.now, new.expires_at
        FROM used JOIN batch AS b ON b.n = used.n,
             LATERAL (VALUES
                 (b.access_hash, 'access', b.access_expires_at,
                  COALESCE(b.access_scope, used.scope)),
                 (b.new_refresh_hash, 'refresh', b.refresh_expires_at, used.scope))
             AS new (token_hash, kind, expires_at, scope)
    )
    SELECT n, scope, auth_time, user_id, username, email, email_verified, user_updated_at
    FROM used
    """
).bindparams(bindparam("batch", type_=JSONB))


async def rotate_refresh_tokens(
    connection: AsyncConnection, rotations: Sequence[Rotation]
) -> list[Rotated | None]:
    """Exchange each live refresh token for its new pair; for each, what it was, or None.

    Nothing is written for a rotation answered None.
    """
    batch = [{"n": n} | asdict(rotation) for n, rotation in enumerate(rotations)]
    rotated = {
        row.n: Rotated(
            scope=parse_scope(row.scope),
            user=user_from(row, row.user_id),
            auth_time=row.auth_time,
        )
        for row in await connection.execute(_ROTATE, {"batch": batch})
    }
    return [rotated.get(n) for n in range(len(rotations))]


# Built once: the statement's cache key is then computed once, not on every request.
# A machine client's grant has no user, hence the outer join (still one primary-key
# probe per token).
_TOKENS = (
    select(
        OAuthToken.token_hash,
        OAuthToken.kind,
        *GRANT_COLUMNS,
        OAuthToken.family,
        OAuthToken.scope,
        OAuthToken.auth_time,
        OAuthToken.resource,
        *USER_COLUMNS,
        OAuthAppRow.active.label("app_active"),
        func.coalesce(User.active, true()).label("user_active"),
        OAuthToken.created_at,
        OAuthToken.expires_at,
        OAuthToken.used_at,
        func.coalesce(OAuthToken.revoked_at, OAuthGrant.revoked_at).label("revoked_at"),
    )
    .join(OAuthGrant, OAuthGrant.id == OAuthToken.grant_id)
    .join(OAuthAppRow, OAuthAppRow.id == OAuthGrant.app_id)
    .outerjoin(User, User.id == OAuthGrant.user_id)
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
        kind=TokenKind(row.kind),
        grant=grant_from(row),
        family=row.family,
        app_active=row.app_active,
        user_active=row.user_active,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        revoked_at=row.revoked_at,
        scope=parse_scope(row.scope),
        auth_time=row.auth_time,
        resource=row.resource,
        user=user_from(row, row.grant_user_id),
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
    return {row.token_hash: _stored_token(row) for row in rows}
