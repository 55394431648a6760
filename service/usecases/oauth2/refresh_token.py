"""``grant_type=refresh_token`` with rotation (RFC 6749 section 6, RFC 9700 section 4.14.2)."""

from __future__ import annotations

from service.domain.ids import hash_token, random_secret
from service.domain.oauth2.errors import InvalidGrant
from service.domain.oauth2.scopes import format_scope, narrowed_scope
from service.domain.oauth2.tokens import IssuedTokens, Rotation, TokenKind
from service.domain.timestamps import utc_now
from service.usecases.oauth2.id_tokens import id_token_for
from service.usecases.oauth2.revocation import client_actor, revoke_grant
from service.usecases.oauth2.stores import OAuth2Services
from service.usecases.oauth2.token_requests import TokenRequest


class RefreshTokenGrant:
    """Each use returns a new pair and retires the old one.

    A used token presented again revokes its whole family and the grant.
    """

    name = "refresh_token"

    async def issue(self, services: OAuth2Services, request: TokenRequest) -> IssuedTokens:
        """Rotate the refresh token, or tell why not."""
        client = request.client
        token_hash = hash_token(request.required("refresh_token"))
        access_scope = await _narrowed(services, token_hash, request.field("scope"))
        now = utc_now()
        access, new_refresh = random_secret(), random_secret()
        rotation = Rotation(
            refresh_hash=token_hash,
            client_id=client.client_id,
            access_hash=hash_token(access),
            access_expires_at=now + client.access_token_lifetime,
            new_refresh_hash=hash_token(new_refresh),
            refresh_expires_at=now + client.refresh_token_lifetime,
            now=now,
            access_scope=None if access_scope is None else format_scope(access_scope),
            resource=request.field("resource"),
        )
        # The usual case, a live token, is one statement (shared with concurrent
        # refreshes); only a refusal looks further.
        if rotated := await services.tokens.rotate(rotation):
            expires_in = int(client.access_token_lifetime.total_seconds())
            scope = rotated.scope if access_scope is None else access_scope
            # A new ID token on each refresh (OpenID Connect Core 1.0 section 12.2), never
            # with the nonce of the authorization.
            id_token = id_token_for(
                services, client, rotated.user, scope, access, auth_time=rotated.auth_time
            )
            return IssuedTokens(access, new_refresh, expires_in, scope, id_token)
        async with services.store.transaction() as tx:
            stored = await tx.locked_token(token_hash)
            if (
                stored is None
                or stored.kind is not TokenKind.REFRESH
                or stored.grant.client_id != client.client_id
            ):
                raise InvalidGrant("The refresh token is not valid for this client")
            if stored.used_at is None:
                raise InvalidGrant("The refresh token is expired or revoked")
            await tx.revoke_family(stored.family, now)
            await revoke_grant(tx, stored.grant, client_actor(client), now)
        raise InvalidGrant("The refresh token was already used")


async def _narrowed(
    services: OAuth2Services, token_hash: str, value: str | None
) -> frozenset[str] | None:
    """The narrower scope asked for (RFC 6749 section 6), None when none was asked."""
    if value is None:
        return None
    stored = await services.tokens.look_up(token_hash)
    # An unknown token asks for nothing: the rotation then refuses it as usual.
    return narrowed_scope(value, stored.scope) if stored is not None else None
