"""The relay's side of the outbox: claim unpublished events, mark them, purge old ones."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Text,
    any_,
    bindparam,
    cast,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.events import Event
from service.persistence.database import delete_batch
from service.persistence.models import OutboxEvent

# Sequence numbers travel as one array parameter: with ``IN (...)`` every batch size
# was another statement, prepared anew once the driver's statement cache overflowed.
_SEQS = ARRAY(BigInteger)

# One relay publishes at a time so that each app's events leave in commit order.
RELAY_LOCK_KEY = 0x6F61_7574_6872_6C79  # "oauthrly"; any constant shared by all relays


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An outbox row waiting to be published; ``body`` is the CloudEvent as stored."""

    seq: int
    event_id: uuid.UUID
    event_type: str
    aggregate_id: str
    body: str
    created_at: datetime


async def add_event(session: AsyncSession, event: Event) -> None:
    """Queue ``event`` in the outbox, inside the caller's transaction."""
    await session.execute(
        insert(OutboxEvent).values(
            event_id=event.id,
            event_type=event.type.value,
            aggregate_id=event.subject,
            payload=event.document,
            created_at=event.occurred_at,
        )
    )


async def try_lock_relay(connection: AsyncConnection) -> bool:
    """Take the relay lock for this connection's session; False when another relay has it."""
    return bool(await connection.scalar(select(func.pg_try_advisory_lock(RELAY_LOCK_KEY))))


_END_FROZEN_RELAY = text(
    """
    SELECT pg_terminate_backend(activity.pid)
    FROM pg_locks AS lock JOIN pg_stat_activity AS activity ON activity.pid = lock.pid
    WHERE lock.locktype = 'advisory' AND lock.granted AND lock.objsubid = 1
      AND ((lock.classid::bigint << 32) | lock.objid::bigint) = :key
      AND activity.pid <> pg_backend_pid()
      AND activity.state_change < now() - make_interval(secs => :seconds)
    """
)


async def end_frozen_relay(connection: AsyncConnection, seconds: float) -> bool:
    """End the session of a relay that holds the lock but has done nothing for ``seconds``.

    A working relay changes its session's state at least every poll interval (about a
    second); one that stayed in one state longer is frozen (stopped, or stuck half-way
    through sending a statement), and its session would keep the lock forever.
    """
    ended = await connection.scalar(_END_FROZEN_RELAY, {"key": RELAY_LOCK_KEY, "seconds": seconds})
    return bool(ended)


async def keep_session_alive(connection: AsyncConnection) -> None:
    """A trivial statement: the session is not idle, and its state changed just now."""
    await connection.execute(select(1))


async def end_session_when_idle(connection: AsyncConnection, seconds: float) -> None:
    """Let the server end this session once it has been idle ``seconds`` (PostgreSQL 14+)."""
    await connection.execute(
        select(func.set_config("idle_session_timeout", f"{int(seconds * 1000)}ms", False))
    )


async def pending_events(connection: AsyncConnection, limit: int) -> list[PendingEvent]:
    """Return the oldest unpublished events, in the order they were written."""
    rows = await connection.execute(
        select(
            OutboxEvent.seq,
            OutboxEvent.event_id,
            OutboxEvent.event_type,
            OutboxEvent.aggregate_id,
            cast(OutboxEvent.payload, Text),
            OutboxEvent.created_at,
        )
        .where(OutboxEvent.published_at.is_(None))
        .order_by(OutboxEvent.seq)
        .limit(limit)
    )
    return [PendingEvent(*row) for row in rows]


async def mark_published(connection: AsyncConnection, seqs: list[int]) -> None:
    """Record that the broker confirmed these events."""
    if seqs:
        await connection.execute(
            update(OutboxEvent)
            .where(OutboxEvent.seq == any_(bindparam("seqs", seqs, type_=_SEQS)))
            .values(published_at=func.now())
        )


async def purge_published(connection: AsyncConnection, retention: timedelta, limit: int) -> int:
    """Delete up to ``limit`` events published longer ago than ``retention``; return how many.

    Only the oldest ``limit`` events (by ``seq``, an index walk) are looked at: events
    are published in about the order they were made, so old ones are at the head, and
    looking no further keeps the check cheap when a million recent events are kept.
    """
    return await delete_batch(
        connection,
        "outbox",
        "SELECT ctid FROM (SELECT ctid, published_at FROM outbox ORDER BY seq LIMIT :limit) head"
        " WHERE published_at < now() - CAST(:retention AS interval)",
        limit,
        retention=retention,
    )


@dataclass(frozen=True, slots=True)
class OldestPending:
    """The oldest unpublished event: which one, and how long ago (database clock) it was made."""

    seq: int
    age: float


async def oldest_pending(connection: AsyncConnection) -> OldestPending | None:
    """Return the oldest unpublished event, or None when the relay has published all."""
    row = (
        await connection.execute(
            select(OutboxEvent.seq, func.extract("epoch", func.now() - OutboxEvent.created_at))
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.seq)
            .limit(1)
        )
    ).first()
    return None if row is None else OldestPending(int(row[0]), float(row[1]))


async def backlog(connection: AsyncConnection) -> tuple[int, float]:
    """Return the number of unpublished events and the age in seconds of the oldest."""
    row = (
        await connection.execute(
            select(
                func.count(),
                func.coalesce(
                    func.extract("epoch", func.now() - func.min(OutboxEvent.created_at)), 0
                ),
            ).where(OutboxEvent.published_at.is_(None))
        )
    ).one()
    return int(row[0]), float(row[1])
