"""The append-only audit log that the audit consumer writes and ``audit list`` reads."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.persistence.models import AuditEntry


@dataclass(frozen=True, slots=True)
class NewAuditEntry:
    """One event as the audit log records it."""

    event_id: uuid.UUID
    event_type: str
    app_id: str
    actor_id: str | None
    actor_username: str
    occurred_at: datetime
    data: dict[str, Any]


async def add_entry(session: AsyncSession, entry: NewAuditEntry) -> None:
    """Append one audit entry."""
    await session.execute(insert(AuditEntry).values(asdict(entry)))


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
