"""Creating and managing OAuth apps; every change writes its event in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.accounts import Principal
from service.domain.events import EventType, app_event
from service.domain.ids import hash_token, object_id, random_id, random_secret
from service.domain.oauth_app import CREATE_SCHEMA, OAuthApp, check_app_fields, utc_now
from service.domain.redirect_uris import RedirectUriPolicy
from service.persistence import apps


@dataclass(frozen=True, slots=True)
class IssuedApp:
    """An app with the plaintext secret that only this response may show."""

    app: OAuthApp
    client_secret: str


async def create_app(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    body: object,
    policy: RedirectUriPolicy,
) -> IssuedApp:
    """Validate ``body`` like Rocket.Chat's ``oauth-apps.create``; store the app and its event."""
    fields = check_app_fields(CREATE_SCHEMA.validate(body), policy, "addOAuthApp")
    now = utc_now()
    secret = random_secret()
    app = OAuthApp(
        id=object_id(),
        name=fields.name,
        redirect_uri=fields.redirect_uri,
        active=fields.active,
        client_id=random_id(),
        created_at=now,
        updated_at=now,
        created_by=principal.actor,
    )
    async with sessions.begin() as session:
        await apps.insert_app(session, app, hash_token(secret))
        await apps.add_event(session, app_event(EventType.CREATED, app, principal.actor, now))
    return IssuedApp(app, secret)
