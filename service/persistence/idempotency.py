"""Reserving, completing and releasing idempotency keys; the primary key decides races.

A reservation belongs to one request (``owner``) of one process, and that process holds
an advisory lock (``owner_lock``) on its dedicated session for as long as it lives. So
another request may take a reservation over exactly when its owner's lock is gone (the
process died, or its session was cut, as in a failover), however long the owner has
been waiting otherwise; and the owner's final write only counts while it still owns
the reservation. One key can therefore never make two apps.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.errors import IdempotencyKeyInFlight, IdempotencyKeyReused
from service.domain.idempotency import KEY_LIFETIME, IdempotentRequest
from service.persistence.housekeeping import expired_rows_purge
from service.persistence.models import IdempotencyKey

OWNER_LOCK_NAMESPACE = 0x6F61_7069  # "oapi": the first key of every owner lock

# The "done" write of reservations, as part of oauth_apps' create statement (which
# names its rows ``input``): it returns the ids of the apps whose request still owns
# its reservation, and only those apps (and apps without a key) are written.
COMPLETE_RESERVATIONS_FROM_INPUT = """
        UPDATE idempotency_keys SET state = 'done', app_id = input.id, response = input.response
        FROM input
        WHERE idempotency_keys.user_id = input.actor_id
          AND idempotency_keys.key = input.idempotency_key
          AND idempotency_keys.owner = input.owner
          AND idempotency_keys.state = 'in_flight'
        RETURNING input.id
    """

_OWNER_GONE = text(
    "NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND objsubid = 2 AND classid = CAST(:owner_namespace AS oid)"
    " AND objid = CAST(idempotency_keys.owner_lock AS oid))"
).bindparams(owner_namespace=OWNER_LOCK_NAMESPACE)

_owner_lock: tuple[int, int] | None = None


def process_owner_lock() -> int:
    """The second key of this process's owner lock (a new one in each process)."""
    global _owner_lock
    if _owner_lock is None or _owner_lock[0] != os.getpid():
        _owner_lock = (os.getpid(), secrets.randbelow(2**31 - 2) + 1)
    return _owner_lock[1]


async def hold_owner_lock(connection: asyncpg.Connection) -> None:
    """Take this process's owner lock on its dedicated session, which keeps it while alive."""
    await connection.execute(
        "SELECT pg_advisory_lock($1, $2)", OWNER_LOCK_NAMESPACE, process_owner_lock()
    )


async def reserve(
    session: AsyncSession, request: IdempotentRequest, now: datetime
) -> dict[str, Any] | None:
    """Reserve the key for this request and return None, or return the stored answer.

    Raise ``IdempotencyKeyReused`` for another body and ``IdempotencyKeyInFlight``
    while the first request runs. An expired reservation, or one whose owner's process
    is gone, is taken over.
    """
    values = {
        "user_id": request.user_id,
        "key": request.key,
        "fingerprint": request.fingerprint,
        "state": "in_flight",
        "owner": request.owner,
        "owner_lock": process_owner_lock(),
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
            (IdempotencyKey.state == "in_flight") & _OWNER_GONE,
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
            IdempotencyKey.owner == request.owner,
            IdempotencyKey.state == "in_flight",
        )
    )


# Answers are kept for their 24 hours, then purged with the other expired rows.
purge_expired = expired_rows_purge("idempotency_keys")
