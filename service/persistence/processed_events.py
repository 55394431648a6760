"""Which events each consumer has already acted on: the consumers' deduplication."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.persistence.database import delete_batch
from service.persistence.models import ProcessedEvent


async def claim_event(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    """Record that ``consumer`` processed the event; False when it already had."""
    inserted = await session.scalar(
        insert(ProcessedEvent)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(ProcessedEvent.event_id)
    )
    return inserted is not None


async def was_processed(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    """Tell whether ``consumer`` has already processed the event."""
    found = await session.scalar(
        select(ProcessedEvent.event_id).where(
            ProcessedEvent.consumer == consumer, ProcessedEvent.event_id == event_id
        )
    )
    return found is not None


async def purge_older_than(connection: AsyncConnection, retention: timedelta, limit: int) -> int:
    """Delete up to ``limit`` marks older than ``retention``; return how many.

    A duplicate arrives within minutes (a redelivery, a relay that died before marking
    its events published); a week of marks, as long as the outbox keeps events, is ample.
    """
    return await delete_batch(
        connection,
        "processed_events",
        "SELECT ctid FROM processed_events"
        " WHERE processed_at < now() - CAST(:retention AS interval) LIMIT :limit",
        limit,
        retention=retention,
    )
