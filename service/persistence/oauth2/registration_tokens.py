"""RFC 7591's initial access tokens: stored hashed, spent one use at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.persistence.database import delete_batch
from service.persistence.models import RegistrationToken


async def insert_token(
    session: AsyncSession,
    token_hash: str,
    *,
    created_at: datetime,
    expires_at: datetime | None,
    uses: int | None,
) -> None:
    """Store a new initial access token's hash, its expiry and how often it may be used."""
    await session.execute(
        insert(RegistrationToken).values(
            token_hash=token_hash, created_at=created_at, expires_at=expires_at, uses_left=uses
        )
    )


async def spend_use(session: AsyncSession, token_hash: str, now: datetime) -> bool:
    """Spend one use of a live token; whether there was one to spend.

    One statement, so two registrations racing for a token's last use cannot both win.
    """
    spent = await session.scalar(
        update(RegistrationToken)
        .where(
            RegistrationToken.token_hash == token_hash,
            or_(RegistrationToken.expires_at.is_(None), RegistrationToken.expires_at > now),
            or_(RegistrationToken.uses_left.is_(None), RegistrationToken.uses_left > 0),
        )
        .values(uses_left=RegistrationToken.uses_left - 1)
        .returning(RegistrationToken.token_hash)
    )
    return spent is not None


_SPENT = (
    "SELECT ctid FROM registration_tokens WHERE expires_at < now() OR uses_left = 0 LIMIT :limit"
)


async def purge_spent(connection: AsyncConnection, limit: int) -> int:
    """Delete at most ``limit`` tokens that expired or have no use left; return how many."""
    return await delete_batch(connection, "registration_tokens", _SPENT, limit)
