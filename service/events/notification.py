"""The notification consumer: tell a webhook (or the log) about each new app."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.timestamps import format_timestamp
from service.events.received import AttemptFailed, HandlerResources, ReceivedEvent
from service.persistence import processed_events

log = logging.getLogger(__name__)


def notification_for(event: ReceivedEvent) -> dict[str, Any]:
    """Return the small JSON document sent for ``event``; it never holds a secret."""
    application = event.application
    return {
        "event": event.type,
        "eventId": str(event.id),
        "time": format_timestamp(event.time),
        "application": {
            "_id": application["_id"],
            "name": application["name"],
            "clientId": application["clientId"],
        },
        "createdBy": event.actor,
    }


class Notifier:
    """POSTs one notification per event; the consumer retries it up to ``max_attempts`` times."""

    name = "notification"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        webhook_url: str | None,
        *,
        http: aiohttp.ClientSession | None = None,
        max_attempts: int = 5,
        timeout: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._webhook_url = webhook_url
        self._http = http
        self.max_attempts = max_attempts
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    @classmethod
    def from_resources(cls, resources: HandlerResources) -> Notifier:
        """Build the notifier that ``NOTIFY_WEBHOOK_URL`` and ``NOTIFY_MAX_ATTEMPTS`` describe."""
        return cls(
            resources.database.sessions,
            resources.settings.notify_webhook_url,
            http=resources.http,
            max_attempts=resources.settings.notify_max_attempts,
        )

    async def handle(self, event: ReceivedEvent) -> None:
        """Notify once per event id; the mark is written only after delivery."""
        async with self._sessions() as session:
            if await processed_events.was_processed(session, self.name, event.id):
                return
        notification = notification_for(event)
        if self._webhook_url is None:
            log.info("notification", extra={"fields": {"notification": notification}})
        else:
            await self._deliver(notification)
        async with self._sessions.begin() as session:
            await processed_events.claim_event(session, self.name, event.id)

    async def _deliver(self, notification: dict[str, Any]) -> None:
        """POST once; raise ``AttemptFailed`` unless the webhook answered 2xx."""
        assert self._http is not None and self._webhook_url is not None
        # The event id lets the receiver drop a repeat after a crash between POST and mark.
        headers = {"Idempotency-Key": notification["eventId"]}
        try:
            # Never follow a redirect: a 307 or 308 would re-send the body and its key to
            # an address nobody configured.
            async with self._http.post(
                self._webhook_url,
                json=notification,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                if 200 <= response.status < 300:
                    return
                raise AttemptFailed(f"webhook answered HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise AttemptFailed(f"webhook unreachable: {type(error).__name__}: {error}") from None
