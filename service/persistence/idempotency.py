"""Reserving, completing and releasing idempotency keys; the primary key decides races."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.errors import IdempotencyKeyInFlight, IdempotencyKeyReused
from service.domain.idempotency import ABANDONED_AFTER, KEY_LIFETIME, IdempotentRequest
from service.persistence.models import IdempotencyKey

# The "done" write of a reservation, as part of oauth_apps' create statement (which
# names its rows ``input``): the app, its event and the stored answer commit together.
# A create without a key matches no reservation.
COMPLETE_RESERVATIONS_FROM_INPUT = """
        UPDATE idempotency_keys SET state = 'done', app_id = input.id, response = input.response
        FROM input
        WHERE idempotency_keys.user_id = input.actor_id
          AND idempotency_keys.key = input.idempotency_key
    """


async def reserve(
    session: AsyncSession, request: IdempotentRequest, now: datetime
) -> dict[str, Any] | None:
    """Reserve the key for this request and return None, or return the stored answer.

    Raise ``IdempotencyKeyReused`` for another body and ``IdempotencyKeyInFlight``
    while the first request runs. An expired or abandoned reservation is taken over.
    """
    values = {
        "user_id": request.user_id,
        "key": request.key,
        "fingerprint": request.fingerprint,
        "state": "in_flight",
        "app_id": None,
        "response": None,
        "created_at": now,
        "expires_at": now + KEY_LIFETIME,
    }
    inserting = insert(IdempotencyKey).values(values)
    statement = inserting.on_conflict_do_update(
        index_elements=[IdempotencyKey.user_id, IdempotencyKey.key],
        set_={name: inserting.excluded[name] for name in values if name not in ("user_id", "key")},
        where=or_(
            IdempotencyKey.expires_at < func.now(),
            (IdempotencyKey.state == "in_flight")
            & (IdempotencyKey.created_at < func.now() - ABANDONED_AFTER),
        ),
    ).returning(IdempotencyKey.key)
    if await session.scalar(statement) is not None:
        return None
    existing = (
        await session.execute(
            select(IdempotencyKey.fingerprint, IdempotencyKey.state, IdempotencyKey.response).where(
                IdempotencyKey.user_id == request.user_id, IdempotencyKey.key == request.key
            )
        )
    ).one()
    if existing.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request body")
    if existing.state != "done" or existing.response is None:
        raise IdempotencyKeyInFlight("A request with this Idempotency-Key is still in progress")
    response: dict[str, Any] = existing.response
    return response


async def release(session: AsyncSession, request: IdempotentRequest) -> None:
    """Give up a reservation whose request failed, so that the key can be retried."""
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == request.user_id,
            IdempotencyKey.key == request.key,
            IdempotencyKey.state == "in_flight",
        )
    )


async def purge_expired(connection: AsyncConnection) -> int:
    """Delete keys older than their 24 hours; return how many."""
    result = await connection.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at < func.now())
    )
    return result.rowcount or 0
