"""What a consumer's handler sees of a message, and how it says a message cannot be handled."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import aiohttp
import orjson

from service.config import Settings
from service.persistence.database import Database


class PoisonMessage(Exception):
    """A message that no retry can make valid."""


class GiveUp(Exception):
    """No attempt can succeed: the message goes to the dead-letter queue at once."""


class AttemptFailed(Exception):
    """This attempt failed, as expected to happen now and then: the consumer tries again."""


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """The parts of a CloudEvent that consumers act on."""

    id: uuid.UUID
    type: str
    subject: str
    time: datetime
    data: dict[str, Any]

    @property
    def actor(self) -> dict[str, Any]:
        """The user who caused the event (``_id`` None when no user did)."""
        actor: dict[str, Any] = self.data["actor"]
        return actor

    @property
    def application(self) -> dict[str, Any]:
        """The app as it was after (or, for a deletion, before) the change."""
        application: dict[str, Any] = self.data["application"]
        return application


def parse_event(body: bytes) -> ReceivedEvent:
    """Parse a CloudEvent body; raise ``PoisonMessage`` when it is not one of ours."""
    try:
        document = orjson.loads(body)
        data = document["data"]
        event = ReceivedEvent(
            id=uuid.UUID(document["id"]),
            type=str(document["type"]),
            subject=str(document["subject"]),
            time=datetime.fromisoformat(document["time"].replace("Z", "+00:00")),
            data=data,
        )
        if not isinstance(data, dict):
            raise ValueError("data is not an object")
        if event.type.startswith("oauth_app.") and not isinstance(data.get("application"), dict):
            raise ValueError("data.application missing")
        if not {"_id", "username"} <= set(data.get("actor") or ()):
            raise ValueError("data.actor missing")
    except (ValueError, KeyError, TypeError, AttributeError, orjson.JSONDecodeError) as error:
        raise PoisonMessage(f"{type(error).__name__}: {error}") from None
    return event


class EventHandler(Protocol):
    """What a consumer does with each event."""

    name: str
    # Failed attempts (any exception but a transient database error) before the
    # consumer dead-letters the event; restarts and redeliveries do not count.
    max_attempts: int

    async def handle(self, event: ReceivedEvent) -> None:
        """Act on ``event`` once: one attempt; raise ``GiveUp`` to dead-letter it at once."""


@dataclass(frozen=True, slots=True)
class HandlerResources:
    """What a handler may be built from: the process's database, settings and HTTP client."""

    database: Database
    settings: Settings
    http: aiohttp.ClientSession


HandlerFactory = Callable[[HandlerResources], EventHandler]
