"""The audit log and the per-consumer record of processed events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.persistence.models import AuditEntry, ProcessedEvent


async def claim_event(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    """Record that ``consumer`` processed the event; False when it already had."""
    inserted = await session.scalar(
        pg_insert(ProcessedEvent)
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


async def add_entry(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    event_type: str,
    app_id: str,
    actor_id: str,
    actor_username: str,
    occurred_at: datetime,
    data: dict[str, Any],
) -> None:
    """Append one audit entry."""
    await session.execute(
        insert(AuditEntry).values(
            event_id=event_id,
            event_type=event_type,
            app_id=app_id,
            actor_id=actor_id,
            actor_username=actor_username,
            occurred_at=occurred_at,
            data=data,
        )
    )


async def newest_entries(session: AsyncSession, limit: int) -> list[dict[str, Any]]:
    """Return the newest entries first, as JSON-ready documents."""
    entries = await session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
    return [
        {
            "eventId": str(entry.event_id),
            "type": entry.event_type,
            "appId": entry.app_id,
            "actor": {"_id": entry.actor_id, "username": entry.actor_username},
            "occurredAt": entry.occurred_at.isoformat(),
            "recordedAt": entry.recorded_at.isoformat(),
            "data": entry.data,
        }
        for entry in entries
    ]
