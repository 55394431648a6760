"""Small in-memory stand-ins for the use cases' collaborators."""

from __future__ import annotations

import hashlib

from service.domain.accounts import Actor
from service.domain.events import EventType, app_event
from service.domain.oauth2.client_metadata import ClientMetadata
from service.domain.oauth_apps import OAuthApp
from service.domain.timestamps import utc_now
from service.persistence.oauth_apps import NewApp

ACTOR = Actor("JFTcMhEAFbNPfnp49", "math.bar")


def new_app_row(name: str) -> NewApp:
    """A registration as the writer receives it; its ids follow from its name (unique)."""
    now = utc_now()
    digest = hashlib.sha256(name.encode()).hexdigest()
    oauth_app = OAuthApp(
        id=digest[:24],
        name=name,
        redirect_uri="https://a.test",
        active=True,
        client_id=digest[24:41],
        created_at=now,
        updated_at=now,
        created_by=ACTOR,
    )
    return NewApp(
        oauth_app=oauth_app,
        secret_hash="h" * 44,
        client_metadata=ClientMetadata(require_pkce=True),
        event=app_event(EventType.CREATED, oauth_app, actor=ACTOR, now=now),
        reservation=None,
    )


class FakeWriter:
    """Keeps what it is asked to write, as if every statement committed."""

    def __init__(self) -> None:
        self.rows: list[NewApp] = []

    async def write(self, row: NewApp) -> None:
        """Commit ``row`` at once."""
        self.rows.append(row)
