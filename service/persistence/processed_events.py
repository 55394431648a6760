"""Which events each consumer has already acted on: the consumers' deduplication."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

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
