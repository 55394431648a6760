"""``grant_type=client_credentials`` (RFC 6749 section 4.4): a confidential client as itself."""

from __future__ import annotations

from service.domain.events import EventType, grant_event
from service.domain.ids import hash_token, object_id, random_secret
from service.domain.oauth2.client_metadata import CLIENT_CREDENTIALS
from service.domain.oauth2.grants import Grant
from service.domain.oauth2.scopes import requested_scope
from service.domain.oauth2.tokens import IssuedTokens, NewToken, TokenKind
from service.domain.timestamps import utc_now
from service.usecases.oauth2.revocation import client_actor
from service.usecases.oauth2.stores import OAuth2Services
from service.usecases.oauth2.token_requests import TokenRequest

# Scopes that only mean something for a user: who they are, staying connected as
# them, acting on /api/v1 as them. A machine client is nobody's.
USER_SCOPES = frozenset({"openid", "offline_access", "api"})


class ClientCredentialsGrant:
    """An access token for the client itself: no user, no refresh token, no ID token."""

    name = CLIENT_CREDENTIALS

    async def issue(self, services: OAuth2Services, request: TokenRequest) -> IssuedTokens:
        """Issue an access token within the client's scopes, on its one live grant.

        Only confidential clients get here: a public one's metadata cannot name this
        grant (``client_metadata.py``).
        """
        client = request.client
        scope = requested_scope(request.field("scope"), client.scopes - USER_SCOPES)
        access = random_secret()
        now = utc_now()
        async with services.store.transaction() as tx:
            # One grant per client, not one per request: its tokens descend from it, and
            # revoking it (or switching the app off) ends them all.
            grant = await tx.live_grant(client.app_id, None)
            if grant is None:
                grant = Grant(object_id(), client.app_id, client.client_id, None, now, scope)
                await tx.insert_grant(grant)
                event = grant_event(
                    EventType.GRANT_CREATED,
                    grant.to_document(),
                    actor=client_actor(client),
                    now=now,
                )
                await tx.add_event(event)
            elif not grant.covers(scope):
                await tx.widen_grant(grant.id, grant.scope | scope)
            await tx.insert_token(
                NewToken(
                    token_hash=hash_token(access),
                    kind=TokenKind.ACCESS,
                    grant_id=grant.id,
                    family=object_id(),  # a family of one: nothing rotates it
                    code_hash=None,
                    created_at=now,
                    expires_at=now + client.access_token_lifetime,
                    scope=scope,
                )
            )
        expires_in = int(client.access_token_lifetime.total_seconds())
        return IssuedTokens(access, None, expires_in, scope)
