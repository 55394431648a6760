"""The audit consumer: one append-only entry per event, exactly once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.events.received import HandlerResources, ReceivedEvent
from service.persistence import audit_log, processed_events
from service.persistence.audit_log import NewAuditEntry


class AuditRecorder:
    """Writes the audit entry and the processed-event mark in one transaction."""

    name = "audit"
    # A failure that is not the database being away is a bug or bad data: retried a
    # few times in place (in case it passes), then left in the dead-letter queue.
    max_attempts = 10

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @classmethod
    def from_resources(cls, resources: HandlerResources) -> AuditRecorder:
        """Build the recorder on the process's database."""
        return cls(resources.database.sessions)

    async def handle(self, event: ReceivedEvent) -> None:
        """Record ``event`` unless it was recorded before (a redelivery)."""
        async with self._sessions.begin() as session:
            if not await processed_events.claim_event(session, self.name, event.id):
                return
            entry = NewAuditEntry(
                event_id=event.id,
                event_type=event.type,
                app_id=event.subject,
                actor_id=event.actor["_id"],
                actor_username=event.actor["username"],
                occurred_at=event.time,
                data=event.data,
            )
            await audit_log.add_entry(session, entry)
