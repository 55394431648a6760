"""Events that an app's changes produce, as CloudEvents 1.0 structured-mode documents."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from service.domain.oauth_app import Actor, OAuthApp, format_timestamp

EVENT_SOURCE = "/oauth-apps"


class EventType(StrEnum):
    """Event types; each is also the AMQP routing key."""

    CREATED = "oauth_app.created"
    UPDATED = "oauth_app.updated"
    DELETED = "oauth_app.deleted"
    SECRET_ROTATED = "oauth_app.secret_rotated"  # noqa: S105 - an event name, not a secret


@dataclass(frozen=True, slots=True)
class AppEvent:
    """One change of one app, ready for the outbox."""

    id: uuid.UUID
    type: EventType
    app_id: str
    occurred_at: datetime
    document: dict[str, Any]


def app_event(event_type: EventType, app: OAuthApp, actor: Actor, now: datetime) -> AppEvent:
    """Build the event for ``app``; the document never carries the client secret."""
    event_id = uuid.uuid4()
    document = {
        "specversion": "1.0",
        "id": str(event_id),
        "source": EVENT_SOURCE,
        "type": event_type.value,
        "subject": app.id,
        "time": format_timestamp(now),
        "datacontenttype": "application/json",
        "data": {"application": app.to_document(), "actor": actor.to_document()},
    }
    return AppEvent(event_id, event_type, app.id, now, document)
