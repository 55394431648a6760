"""The signing keys' SQL: a private key is stored only sealed (``usecases/oauth2/keys.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.oauth2.keys import SigningAlgorithm, SigningKey
from service.persistence.database import delete_batch
from service.persistence.models import SigningKeyRow

_COLUMNS = (
    SigningKeyRow.kid,
    SigningKeyRow.algorithm,
    SigningKeyRow.public_jwk,
    SigningKeyRow.private_key,
    SigningKeyRow.created_at,
    SigningKeyRow.rotated_at,
    SigningKeyRow.retire_after,
)
# Newest first: the current key, then those it replaced.
_NEWEST_FIRST = (SigningKeyRow.created_at.desc(), SigningKeyRow.kid)


def _key_from(row: Row[*tuple[Any, ...]]) -> SigningKey:
    return SigningKey(
        kid=row.kid,
        algorithm=SigningAlgorithm(row.algorithm),
        public_jwk=row.public_jwk,
        created_at=row.created_at,
        sealed_private_key=row.private_key,
        rotated_at=row.rotated_at,
        retire_after=row.retire_after,
    )


async def lock_keys(session: AsyncSession) -> None:
    """Take the table's change lock until commit: one rotation at a time, reads go on."""
    await session.execute(text("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE"))


async def current_key(session: AsyncSession) -> SigningKey | None:
    """The key that signs (none before ``migrate`` made the first)."""
    row = (
        await session.execute(select(*_COLUMNS).where(SigningKeyRow.rotated_at.is_(None)))
    ).first()
    return None if row is None else _key_from(row)


async def insert_key(session: AsyncSession, key: SigningKey) -> None:
    """Store a new key."""
    await session.execute(
        insert(SigningKeyRow).values(
            kid=key.kid,
            algorithm=key.algorithm.value,
            public_jwk=dict(key.public_jwk),
            private_key=key.sealed_private_key,
            created_at=key.created_at,
            rotated_at=key.rotated_at,
            retire_after=key.retire_after,
        )
    )


async def mark_rotated(session: AsyncSession, key: SigningKey) -> None:
    """Record that ``key`` (as ``SigningKey.rotated`` made it) no longer signs."""
    await session.execute(
        update(SigningKeyRow)
        .where(SigningKeyRow.kid == key.kid)
        .values(rotated_at=key.rotated_at, retire_after=key.retire_after)
    )


async def live_keys(connection: AsyncConnection) -> list[SigningKey]:
    """The keys that sign or still verify, newest first."""
    rows = await connection.execute(
        select(*_COLUMNS)
        .where(or_(SigningKeyRow.retire_after.is_(None), SigningKeyRow.retire_after > func.now()))
        .order_by(*_NEWEST_FIRST)
    )
    return [_key_from(row) for row in rows]


async def all_keys(connection: AsyncConnection) -> list[SigningKey]:
    """Every stored key, retired ones the purge has not deleted yet included, newest first."""
    rows = await connection.execute(select(*_COLUMNS).order_by(*_NEWEST_FIRST))
    return [_key_from(row) for row in rows]


_RETIRED = "SELECT ctid FROM signing_keys WHERE retire_after < now() LIMIT :limit"


async def purge_retired(connection: AsyncConnection, limit: int) -> int:
    """Delete keys whose every ID token has expired: their private halves go with them."""
    return await delete_batch(connection, "signing_keys", _RETIRED, limit)
