"""Events that changes produce, as CloudEvents 1.0 structured-mode documents."""

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
    PERMISSION_UPDATED = "permission.updated"
    GRANT_CREATED = "oauth_grant.created"
    GRANT_REVOKED = "oauth_grant.revoked"
    SIGNING_KEY_ROTATED = "signing_key.rotated"


# What each event means, for the AsyncAPI document; adding an event type adds a line here.
EVENT_SUMMARIES: dict[EventType, str] = {
    EventType.CREATED: "An app was registered (`oauth-apps.create`).",
    EventType.UPDATED: "An app's name, redirect URIs or active flag changed (`oauth-apps.update`).",
    EventType.DELETED: "An app was deleted (`oauth-apps.delete`).",
    EventType.SECRET_ROTATED: (
        "An app's client secret was replaced (`oauth-apps.rotateSecret`);"
        " neither secret is in the event."
    ),
    EventType.PERMISSION_UPDATED: (
        "The roles that hold a permission changed (`permissions.update`)."
    ),
    EventType.GRANT_CREATED: "A user granted an app access for the first time (consent).",
    EventType.GRANT_REVOKED: (
        "A grant was revoked: by its client, by an admin action, or after a token replay."
    ),
    EventType.SIGNING_KEY_ROTATED: (
        "A new signing key signs ID tokens (`oauth-apps keys rotate`); the previous one"
        " verifies until its tokens expire. No key material is in the event."
    ),
}


@dataclass(frozen=True, slots=True)
class Event:
    """One change of one thing (its ``subject``: an app or a permission), for the outbox."""

    id: uuid.UUID
    type: EventType
    subject: str
    occurred_at: datetime
    document: dict[str, Any]


def _event(event_type: EventType, subject: str, data: dict[str, Any], now: datetime) -> Event:
    event_id = uuid.uuid4()
    document = {
        "specversion": "1.0",
        "id": str(event_id),
        "source": EVENT_SOURCE,
        "type": event_type.value,
        "subject": subject,
        "time": format_timestamp(now),
        "datacontenttype": "application/json",
        "data": data,
    }
    return Event(id=event_id, type=event_type, subject=subject, occurred_at=now, document=document)


def app_event(event_type: EventType, app: OAuthApp, *, actor: Actor, now: datetime) -> Event:
    """Build the event for ``app``; the document never carries the client secret."""
    data = {"application": app.to_document(), "actor": actor.to_document()}
    return _event(event_type, app.id, data, now)


def secret_rotated_event(
    app: OAuthApp, *, actor: Actor, now: datetime, until: datetime | None
) -> Event:
    """Build ``oauth_app.secret_rotated``: until when the previous secret still works."""
    event = app_event(EventType.SECRET_ROTATED, app, actor=actor, now=now)
    event.document["data"]["previousSecretValidUntil"] = (
        None if until is None else format_timestamp(until)
    )
    return event


def permission_event(permission: dict[str, Any], *, actor: Actor, now: datetime) -> Event:
    """Build ``permission.updated`` for a permission as ``permissions.listAll`` shows it."""
    data = {"permission": permission, "actor": actor.to_document()}
    return _event(EventType.PERMISSION_UPDATED, permission["_id"], data, now)


def grant_event(
    event_type: EventType, grant: dict[str, Any], *, actor: Actor, now: datetime
) -> Event:
    """Build ``oauth_grant.*`` for a grant ``{_id, clientId, userId, createdAt}``: no token."""
    data = {"grant": grant, "actor": actor.to_document()}
    return _event(event_type, grant["_id"], data, now)


def signing_key_event(key: dict[str, Any], *, actor: Actor, now: datetime) -> Event:
    """Build ``signing_key.rotated`` for the new key ``{kid, alg, createdAt}``."""
    data = {"key": key, "actor": actor.to_document()}
    return _event(EventType.SIGNING_KEY_ROTATED, key["kid"], data, now)
