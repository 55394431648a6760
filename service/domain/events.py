"""Events that an app's changes produce, as CloudEvents 1.0 structured-mode documents."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from service.domain.accounts import Actor
from service.domain.oauth_apps import OAuthApp
from service.domain.timestamps import format_timestamp

EVENT_SOURCE = "/oauth-apps"


class EventType(StrEnum):
    """Event types; each is also the AMQP routing key."""

    CREATED = "oauth_app.created"
    UPDATED = "oauth_app.updated"
    DELETED = "oauth_app.deleted"
    SECRET_ROTATED = "oauth_app.secret_rotated"  # noqa: S105 - an event name, not a secret


# What each event means, for the AsyncAPI document; adding an event type adds a line here.
EVENT_SUMMARIES: dict[EventType, str] = {
    EventType.CREATED: "An app was registered (`oauth-apps.create`).",
    EventType.UPDATED: "An app's name, redirect URIs or active flag changed (`oauth-apps.update`).",
    EventType.DELETED: "An app was deleted (`oauth-apps.delete`).",
    EventType.SECRET_ROTATED: (
        "An app's client secret was replaced (`oauth-apps.rotateSecret`);"
        " neither secret is in the event."
    ),
}


@dataclass(frozen=True, slots=True)
class AppEvent:
    """One change of one app, ready for the outbox."""

    id: uuid.UUID
    type: EventType
    app_id: str
    occurred_at: datetime
    document: dict[str, Any]


def app_event(event_type: EventType, app: OAuthApp, *, actor: Actor, now: datetime) -> AppEvent:
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
    return AppEvent(id=event_id, type=event_type, app_id=app.id, occurred_at=now, document=document)
