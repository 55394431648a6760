"""The authorization server's use cases: authorize, consent, token, revoke, introspect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.accounts import Actor, Principal
from service.domain.events import EventType, grant_event
from service.domain.ids import hash_token, object_id, random_secret
from service.domain.oauth2 import (
    ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    SESSION_LIFETIME,
    AuthorizationRequest,
    AuthorizeRefused,
    InvalidClient,
    OAuthError,
    choose_redirect_uri,
    registered_uris,
    secrets_match,
    verify_pkce,
)
from service.domain.timestamps import format_timestamp, utc_now
from service.persistence import accounts, oauth2, outbox
from service.persistence.database import Database
from service.persistence.oauth2 import Client, Grant, StoredCode, StoredToken
from service.usecases.auth_cache import AuthCache
from service.usecases.token_batches import TokenBatches


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """A token response: the only place the tokens exist in plaintext."""

    access_token: str
    refresh_token: str
    expires_in: int

    def to_document(self) -> dict[str, Any]:
        """RFC 6749 section 5.1."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
        }


def _grant_document(grant: Grant) -> dict[str, Any]:
    return {
        "_id": grant.id,
        "clientId": grant.client_id,
        "userId": grant.user_id,
        "createdAt": format_timestamp(grant.created_at),
    }


async def client_for_authorize(
    db: Database, client_id: str | None, redirect_uri: str | None
) -> tuple[Client, str]:
    """The active app and the redirect URI to answer on; ``AuthorizeRefused`` otherwise."""
    if not client_id:
        raise AuthorizeRefused("client_id is missing")
    async with db.sessions() as session:
        client = await oauth2.find_client(session, client_id)
    if client is None or not client.active:
        raise AuthorizeRefused("unknown or inactive client_id")
    return client, choose_redirect_uri(registered_uris(client.redirect_uri), redirect_uri)


async def authenticate_client(
    db: Database, client_id: str | None, secret: str | None, *, cache: AuthCache | None = None
) -> Client:
    """The active app whose secret this is; ``InvalidClient`` otherwise."""
    if not client_id or secret is None:
        raise InvalidClient()
    client = cache.clients.get(client_id) if cache is not None else None
    if client is None:
        generation = cache.clients.generation if cache is not None else 0
        async with db.autocommit.connect() as connection:
            client = await oauth2.find_client(connection, client_id)
        if client is not None and cache is not None:
            cache.clients.put(client.client_id, client, generation=generation)
    # Compared even for an unknown client, so that timing does not tell which exist.
    stored = client.secret_hash if client is not None else hash_token("")
    if not secrets_match(stored, hash_token(secret)) or client is None or not client.active:
        raise InvalidClient()
    return client


async def start_session(db: Database, user_id: str) -> tuple[str, str]:
    """Open a login session of the authorization pages: ``(cookie value, CSRF token)``."""
    token, csrf = random_secret(), random_secret()
    async with db.sessions.begin() as session:
        await oauth2.insert_session(
            session, hash_token(token), user_id, csrf, utc_now() + SESSION_LIFETIME
        )
    return token, csrf


async def session_user(db: Database, cookie: str | None) -> tuple[Principal, str] | None:
    """The logged-in user of a session cookie and the session's CSRF token."""
    if not cookie:
        return None
    async with db.sessions() as session:
        found = await oauth2.find_session(session, hash_token(cookie))
        if found is None:
            return None
        principal = await accounts.find_active_user(session, found[0])
    return None if principal is None else (principal, found[1])


async def has_live_grant(db: Database, client: Client, user_id: str) -> bool:
    """Whether the user already granted this app (then consent is not asked again)."""
    async with db.sessions() as session:
        return await oauth2.live_grant(session, client.app_id, user_id) is not None


async def approve(
    db: Database, client: Client, principal: Principal, request: AuthorizationRequest
) -> str:
    """Record the consent (a first grant is an event) and issue a code; return the code."""
    code = random_secret()
    now = utc_now()
    async with db.sessions.begin() as session:
        grant = await oauth2.live_grant(session, client.app_id, principal.id)
        if grant is None:
            grant = Grant(object_id(), client.app_id, client.client_id, principal.id, now)
            await oauth2.insert_grant(session, grant)
            event = grant_event(
                EventType.GRANT_CREATED, _grant_document(grant), actor=principal.actor, now=now
            )
            await outbox.add_event(session, event)
        stored = StoredCode(
            grant=grant,
            redirect_uri=request.redirect_uri,
            redirect_uri_sent=request.redirect_uri_sent,
            code_challenge=request.code_challenge,
            expires_at=now + CODE_LIFETIME,
            used_at=None,
        )
        await oauth2.insert_code(session, hash_token(code), grant.id, stored)
    return code


async def _issue(
    session: AsyncSession, grant: Grant, *, family: str, code_hash: str | None, now: datetime
) -> IssuedTokens:
    access, refresh = random_secret(), random_secret()
    for token, kind, lifetime in (
        (access, "access", ACCESS_TOKEN_LIFETIME),
        (refresh, "refresh", REFRESH_TOKEN_LIFETIME),
    ):
        await oauth2.insert_token(
            session,
            hash_token(token),
            kind=kind,
            grant_id=grant.id,
            family=family,
            code_hash=code_hash,
            created_at=now,
            expires_at=now + lifetime,
        )
    return IssuedTokens(access, refresh, int(ACCESS_TOKEN_LIFETIME.total_seconds()))


def _client_actor(client: Client) -> Actor:
    """A client acting on its own (a revocation, a replay), as events cite it."""
    return Actor(client.client_id, client.name)


async def _revoke_grant(session: AsyncSession, grant: Grant, actor: Actor, now: datetime) -> None:
    """Revoke a grant and its tokens; the revocation is an event."""
    if await oauth2.revoke_grant(session, grant.id, now):
        event = grant_event(EventType.GRANT_REVOKED, _grant_document(grant), actor=actor, now=now)
        await outbox.add_event(session, event)


async def exchange_code(
    db: Database,
    client: Client,
    *,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
) -> IssuedTokens:
    """``grant_type=authorization_code``: single use, bound to client, URI and challenge."""
    if not code:
        raise OAuthError("invalid_request", "code is required")
    code_hash = hash_token(code)
    now = utc_now()
    async with db.sessions.begin() as session:
        stored = await oauth2.take_code(session, code_hash, now)
        if stored is None or stored.grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "The code is not valid for this client")
        replayed = stored.used_at is not None
        if not replayed:
            if stored.expires_at <= now:
                raise OAuthError("invalid_grant", "The code has expired")
            if stored.redirect_uri_sent and redirect_uri != stored.redirect_uri:
                raise OAuthError("invalid_grant", "redirect_uri differs from the authorization's")
            if not verify_pkce(stored.code_challenge, code_verifier):
                raise OAuthError("invalid_grant", "code_verifier does not match the challenge")
            return await _issue(
                session, stored.grant, family=object_id(), code_hash=code_hash, now=now
            )
    # RFC 6749 section 4.1.2: a code used twice revokes what it issued.
    async with db.sessions.begin() as session:
        await oauth2.revoke_issued_from_code(session, code_hash, now)
        await _revoke_grant(session, stored.grant, _client_actor(client), now)
    raise OAuthError("invalid_grant", "The code was already used")


async def refresh(
    db: Database, batches: TokenBatches, client: Client, refresh_token: str | None
) -> IssuedTokens:
    """``grant_type=refresh_token`` with rotation; a replay revokes the family (RFC 9700)."""
    if not refresh_token:
        raise OAuthError("invalid_request", "refresh_token is required")
    token_hash = hash_token(refresh_token)
    now = utc_now()
    access, new_refresh = random_secret(), random_secret()
    rotation = oauth2.Rotation(
        refresh_hash=token_hash,
        client_id=client.client_id,
        access_hash=hash_token(access),
        access_expires_at=now + ACCESS_TOKEN_LIFETIME,
        new_refresh_hash=hash_token(new_refresh),
        refresh_expires_at=now + REFRESH_TOKEN_LIFETIME,
        now=now,
    )
    # The usual case, a live token, is one statement (shared with concurrent refreshes);
    # only a refusal looks further.
    if await batches.rotate(rotation):
        return IssuedTokens(access, new_refresh, int(ACCESS_TOKEN_LIFETIME.total_seconds()))
    async with db.sessions.begin() as session:
        stored = await oauth2.find_token(session, token_hash, lock=True)
        if stored is None or stored.kind != "refresh" or stored.grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "The refresh token is not valid for this client")
        if stored.used_at is None:
            raise OAuthError("invalid_grant", "The refresh token is expired or revoked")
        # RFC 9700 section 4.14.2: a used refresh token presented again revokes the family.
        await oauth2.revoke_family(session, stored.family, now)
        await _revoke_grant(session, stored.grant, _client_actor(client), now)
    raise OAuthError("invalid_grant", "The refresh token was already used")


def _usable(token: StoredToken, now: datetime) -> bool:
    return (
        token.revoked_at is None
        and token.expires_at > now
        and token.app_active
        and token.user_active
    )


async def revoke(db: Database, client: Client, token: str | None) -> None:
    """RFC 7009: revoke a token of this client; a refresh token takes its family with it."""
    if not token:
        raise OAuthError("invalid_request", "token is required")
    now = utc_now()
    async with db.sessions.begin() as session:
        stored = await oauth2.find_token(session, hash_token(token), lock=True)
        if stored is None or stored.grant.client_id != client.client_id:
            return  # an unknown token is answered 200 too
        if stored.kind == "refresh":
            # Revoking the refresh token ends the authorization: the grant goes too.
            await oauth2.revoke_family(session, stored.family, now)
            await _revoke_grant(session, stored.grant, _client_actor(client), now)
        else:
            await oauth2.revoke_token(session, hash_token(token), now)


async def introspect(
    batches: TokenBatches, token: str | None, *, client: Client | None
) -> dict[str, Any]:
    """RFC 7662: for the client the token was issued to, or (``client`` None) a manager."""
    if not token:
        raise OAuthError("invalid_request", "token is required")
    stored = await batches.look_up(hash_token(token))
    now = utc_now()
    if stored is None or not _usable(stored, now) or (stored.kind == "refresh" and stored.used_at):
        return {"active": False}
    if client is not None and stored.grant.client_id != client.client_id:
        return {"active": False}
    return {
        "active": True,
        "client_id": stored.grant.client_id,
        "username": stored.username,
        "sub": stored.grant.user_id,
        "exp": int(stored.expires_at.timestamp()),
        "iat": int(stored.created_at.timestamp()),
        "token_type": "refresh_token" if stored.kind == "refresh" else "Bearer",
    }


async def bearer_user(db: Database, access_token: str) -> tuple[Principal, StoredToken] | None:
    """The user a live access token stands for (userinfo, and ``/api/v1`` like Rocket.Chat)."""
    async with db.autocommit.connect() as connection:
        stored = await oauth2.find_token(connection, hash_token(access_token))
        if stored is None or stored.kind != "access" or not _usable(stored, utc_now()):
            return None
        principal = await accounts.find_active_user(connection, stored.grant.user_id)
    return None if principal is None else (principal, stored)


async def bearer_principal(
    db: Database, access_token: str, *, cache: AuthCache | None = None
) -> Principal | None:
    """The caller an access token stands for on ``/api/v1``, through the principal cache."""
    token_hash = hash_token(access_token)
    if cache is not None and (cached := cache.bearers.get(token_hash)) is not None:
        return cached
    generation = cache.bearers.generation if cache is not None else 0
    found = await bearer_user(db, access_token)
    if found is None:
        return None
    principal, stored = found
    if cache is not None:
        cache.bearers.put(token_hash, principal, generation=generation, expires=stored.expires_at)
    return principal


async def revoke_app_grants(session: AsyncSession, app_id: str, actor: Actor) -> None:
    """An app deleted or deactivated: its grants and tokens end now, each an event."""
    now = utc_now()
    for grant in await oauth2.live_grants_of_app(session, app_id):
        await _revoke_grant(session, grant, actor, now)
