"""``grant_type=authorization_code`` (RFC 6749 section 4.1.3, RFC 7636 section 4.6)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from service.domain.ids import hash_token, object_id, random_secret
from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import InvalidGrant
from service.domain.oauth2.pkce import verify_pkce
from service.domain.oauth2.tokens import IssuedTokens, NewToken, StoredCode, TokenKind
from service.domain.timestamps import utc_now
from service.usecases.oauth2.id_tokens import id_token_for
from service.usecases.oauth2.revocation import client_actor, revoke_grant
from service.usecases.oauth2.stores import OAuth2Services, OAuth2Transaction
from service.usecases.oauth2.token_requests import TokenRequest


class AuthorizationCodeGrant:
    """A code exchanged once, bound to its client, redirect URI and PKCE challenge."""

    name = "authorization_code"

    async def issue(self, services: OAuth2Services, request: TokenRequest) -> IssuedTokens:
        """Exchange the code; a code used twice revokes what it issued (section 4.1.2)."""
        client = request.client
        code_hash = hash_token(request.required("code"))
        now = utc_now()
        async with services.store.transaction() as tx:
            stored = await tx.take_code(code_hash, now)
            if stored is None or stored.grant.client_id != client.client_id:
                raise InvalidGrant("The code is not valid for this client")
            replayed = stored.used_at is not None
            if not replayed:
                _check_unused(services, stored, request, now)
                # RFC 8707: the token request may name the resource, else the authorization did.
                resource = request.field("resource") or stored.resource
                issued = await _issue(tx, client, stored, code_hash, now, resource)
        if replayed:
            async with services.store.transaction() as tx:
                await tx.revoke_issued_from_code(code_hash, now)
                await revoke_grant(tx, stored.grant, client_actor(client), now)
            raise InvalidGrant("The code was already used")
        id_token = id_token_for(
            services,
            client,
            stored.user,
            stored.scope,
            issued.access_token,
            auth_time=stored.auth_time,
            nonce=stored.nonce,
        )
        return dataclasses.replace(issued, id_token=id_token)


def _check_unused(
    services: OAuth2Services, stored: StoredCode, request: TokenRequest, now: datetime
) -> None:
    if stored.expires_at <= now:
        raise InvalidGrant("The code has expired")
    if stored.redirect_uri_sent and request.field("redirect_uri") != stored.redirect_uri:
        raise InvalidGrant("redirect_uri differs from the authorization's")
    if stored.code_challenge is None and request.client.pkce_required(services.pkce):
        # Issued before the app became public or required PKCE: only PKCE binds it now.
        raise InvalidGrant("A code of this client needs PKCE")
    if not verify_pkce(stored.code_challenge, request.field("code_verifier")):
        raise InvalidGrant("code_verifier does not match the challenge")


async def _issue(
    tx: OAuth2Transaction,
    client: Client,
    code: StoredCode,
    code_hash: str,
    now: datetime,
    resource: str | None,
) -> IssuedTokens:
    """A new refresh family: an access token and a refresh token, at the client's lifetimes."""
    access, refresh = random_secret(), random_secret()
    family = object_id()
    for token, kind, lifetime in (
        (access, TokenKind.ACCESS, client.access_token_lifetime),
        (refresh, TokenKind.REFRESH, client.refresh_token_lifetime),
    ):
        await tx.insert_token(
            NewToken(
                token_hash=hash_token(token),
                kind=kind,
                grant_id=code.grant.id,
                family=family,
                code_hash=code_hash,
                created_at=now,
                expires_at=now + lifetime,
                scope=code.scope,
                auth_time=code.auth_time,
                resource=resource,
            )
        )
    expires_in = int(client.access_token_lifetime.total_seconds())
    return IssuedTokens(access, refresh, expires_in, code.scope)
