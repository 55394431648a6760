"""Consent: a user allows a client once (a grant), and each authorization issues a code."""

from __future__ import annotations

from service.domain.accounts import Principal
from service.domain.events import EventType, grant_event
from service.domain.ids import hash_token, object_id, random_secret
from service.domain.oauth2.authorization import AuthorizationRequest
from service.domain.oauth2.clients import Client
from service.domain.oauth2.grants import Grant
from service.domain.oauth2.tokens import CODE_LIFETIME, StoredCode
from service.domain.timestamps import utc_now
from service.usecases.oauth2.stores import OAuth2Services


async def has_live_grant(services: OAuth2Services, client: Client, user_id: str) -> bool:
    """Whether the user already allowed this app (then consent is not asked again)."""
    return await services.store.has_live_grant(client.app_id, user_id)


async def approve(
    services: OAuth2Services,
    client: Client,
    principal: Principal,
    request: AuthorizationRequest,
) -> str:
    """Record the consent (a first grant is an event) and issue a code; return the code."""
    code = random_secret()
    now = utc_now()
    async with services.store.transaction() as tx:
        grant = await tx.live_grant(client.app_id, principal.id)
        if grant is None:
            grant = Grant(object_id(), client.app_id, client.client_id, principal.id, now)
            await tx.insert_grant(grant)
            event = grant_event(
                EventType.GRANT_CREATED, grant.to_document(), actor=principal.actor, now=now
            )
            await tx.add_event(event)
        stored = StoredCode(
            grant=grant,
            redirect_uri=request.redirect_uri,
            redirect_uri_sent=request.redirect_uri_sent,
            code_challenge=request.code_challenge,
            expires_at=now + CODE_LIFETIME,
            used_at=None,
        )
        await tx.insert_code(hash_token(code), stored)
    return code
