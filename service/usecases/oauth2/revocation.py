"""Ending grants and tokens: RFC 7009 revocation, reuse detection, an app's removal."""

from __future__ import annotations

from datetime import datetime

from service.domain.accounts import Actor
from service.domain.events import EventType, grant_event
from service.domain.ids import hash_token
from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import InvalidRequest
from service.domain.oauth2.grants import Grant
from service.domain.oauth2.tokens import TokenKind
from service.domain.timestamps import utc_now
from service.usecases.oauth2.stores import OAuth2Services, OAuth2Transaction


def client_actor(client: Client) -> Actor:
    """A client acting on its own (a revocation, a replay), as events cite it."""
    return Actor(client.client_id, client.name)


async def revoke_grant(tx: OAuth2Transaction, grant: Grant, actor: Actor, now: datetime) -> None:
    """Revoke a grant and its tokens; the revocation is an event."""
    if await tx.revoke_grant(grant.id, now):
        event = grant_event(EventType.GRANT_REVOKED, grant.to_document(), actor=actor, now=now)
        await tx.add_event(event)


async def revoke(services: OAuth2Services, client: Client, token: str | None) -> None:
    """RFC 7009: revoke a token of this client; a refresh token takes its family with it."""
    if not token:
        raise InvalidRequest("token is required")
    now = utc_now()
    async with services.store.transaction() as tx:
        stored = await tx.locked_token(hash_token(token))
        if stored is None or stored.grant.client_id != client.client_id:
            return  # an unknown token is answered 200 too
        if stored.kind is TokenKind.REFRESH:
            # Revoking the refresh token ends the authorization: the grant goes too.
            await tx.revoke_family(stored.family, now)
            await revoke_grant(tx, stored.grant, client_actor(client), now)
        else:
            await tx.revoke_token(hash_token(token), now)


async def revoke_app_grants(tx: OAuth2Transaction, app_id: str, actor: Actor) -> None:
    """An app deleted or deactivated: its grants and tokens end now, each an event."""
    now = utc_now()
    for grant in await tx.live_grants_of_app(app_id):
        await revoke_grant(tx, grant, actor, now)
