"""Consent: a user allows a client some scopes (a grant), and each authorization issues a code.

A remembered grant covers only the scopes the user allowed: asking for more shows the
consent page again, and allowing them widens the same grant.
"""

from __future__ import annotations

from datetime import datetime

from service.domain.accounts import Principal
from service.domain.events import EventType, grant_event
from service.domain.ids import hash_token, object_id, random_secret
from service.domain.oauth2.authorization import AuthorizationRequest
from service.domain.oauth2.clients import Client
from service.domain.oauth2.grants import Grant
from service.domain.oauth2.tokens import CODE_LIFETIME, StoredCode
from service.domain.timestamps import utc_now
from service.usecases.oauth2.stores import OAuth2Services


async def has_live_grant(
    services: OAuth2Services, client: Client, user_id: str, scope: frozenset[str] = frozenset()
) -> bool:
    """Whether the user already allowed this app ``scope`` (then consent is not asked again)."""
    grant = await services.store.find_live_grant(client.app_id, user_id)
    return grant is not None and grant.covers(scope)


async def approve(
    services: OAuth2Services,
    client: Client,
    principal: Principal,
    request: AuthorizationRequest,
    *,
    auth_time: datetime | None = None,
) -> str:
    """Record the consent (a first grant is an event) and issue a code; return the code."""
    code = random_secret()
    now = utc_now()
    async with services.store.transaction() as tx:
        grant = await tx.live_grant(client.app_id, principal.id)
        if grant is None:
            new = Grant(
                object_id(), client.app_id, client.client_id, principal.id, now, request.scope
            )
            if await tx.insert_grant(new):
                grant = new
                event = grant_event(
                    EventType.GRANT_CREATED, grant.to_document(), actor=principal.actor, now=now
                )
                await tx.add_event(event)
            else:  # a concurrent approval made it: this one issues a code of that grant
                grant = await tx.live_grant(client.app_id, principal.id)
                assert grant is not None
        if not grant.covers(request.scope):
            await tx.widen_grant(grant.id, grant.scope | request.scope)
        stored = StoredCode(
            grant=grant,
            redirect_uri=request.redirect_uri,
            redirect_uri_sent=request.redirect_uri_sent,
            code_challenge=request.code_challenge,
            expires_at=now + CODE_LIFETIME,
            used_at=None,
            scope=request.scope,
            nonce=request.nonce,
            auth_time=auth_time,
            resource=request.resource,
        )
        await tx.insert_code(hash_token(code), stored)
    return code
