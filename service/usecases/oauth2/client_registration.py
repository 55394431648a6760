"""RFC 7591 and RFC 7592: clients register themselves; they or an administrator manage them.

A registered client is an app like any other: the same row, checks and
``oauth_app.created`` event. Changes go through ``oauth-apps.update``'s and
``oauth-apps.delete``'s code, so they are the same ``oauth_app.updated`` and
``oauth_app.deleted`` events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.accounts import DYNAMIC_REGISTRATION, Actor
from service.domain.ids import hash_token, random_secret
from service.domain.oauth2.client_metadata import (
    ClientMetadata,
    RegistrationRequest,
    check_registration,
)
from service.domain.oauth2.clients import (
    CONFIDENTIAL_AUTH_METHODS,
    NO_SECRET_HASH,
    ClientAuthMethod,
    secrets_match,
)
from service.domain.oauth2.errors import InvalidClientMetadata, InvalidToken
from service.domain.oauth2.pkce import PkceMode
from service.domain.oauth2.registration import (
    REGISTERED_DEFAULT_SCOPES,
    SELF_REGISTERED_GRANT_TYPES,
    check_self_registration,
)
from service.domain.oauth2.scopes import DEFAULT_APP_SCOPES
from service.domain.oauth_apps import AppFields, OAuthApp
from service.domain.redirect_uris import RedirectUriPolicy
from service.domain.timestamps import utc_now
from service.persistence import oauth_apps
from service.persistence.database import Database
from service.persistence.oauth2 import clients, registration_tokens
from service.persistence.oauth2.store import SqlOAuth2Transaction
from service.usecases.oauth2.grant_types import GRANT_TYPES
from service.usecases.oauth2.revocation import revoke_app_grants
from service.usecases.oauth_apps import delete_locked_app, new_app, save_app_change


@dataclass(frozen=True, slots=True)
class Registrant:
    """Who registers or changes a client: an administrator, or the client's side itself."""

    actor: Actor
    administrator: bool


# A client's side: open registration, an initial access token, a registration access token.
SELF = Registrant(DYNAMIC_REGISTRATION, administrator=False)


def administrator(actor: Actor) -> Registrant:
    """A caller who holds ``manage-oauth-apps``."""
    return Registrant(actor, administrator=True)


@dataclass(frozen=True, slots=True)
class Registration:
    """An app and its client metadata."""

    oauth_app: OAuthApp
    metadata: ClientMetadata


@dataclass(frozen=True, slots=True)
class NewRegistration:
    """A client just registered, with the secrets that only this answer shows."""

    registration: Registration
    client_secret: str | None  # None for a public client
    registration_access_token: str


async def create_initial_access_token(
    db: Database, *, expires_in: int | None, uses: int | None
) -> str:
    """A new initial access token (stored hashed), for ``expires_in`` s and ``uses`` clients."""
    token = random_secret()
    now = utc_now()
    expires_at = None if expires_in is None else now + timedelta(seconds=expires_in)
    async with db.sessions.begin() as session:
        await registration_tokens.insert_token(
            session, hash_token(token), created_at=now, expires_at=expires_at, uses=uses
        )
    return token


def _checked(
    registrant: Registrant, body: object, *, policy: RedirectUriPolicy, pkce: PkceMode
) -> RegistrationRequest:
    """The metadata, with what a registrant who is not an administrator may not choose."""
    checked = check_registration(
        body,
        policy=policy,
        grant_types=GRANT_TYPES.keys()
        if registrant.administrator
        else SELF_REGISTERED_GRANT_TYPES & GRANT_TYPES.keys(),
        # A client's side never skips PKCE (check_self_registration), whatever OAUTH_PKCE.
        pkce_by_default=pkce is PkceMode.REQUIRED or not registrant.administrator,
        default_scope=DEFAULT_APP_SCOPES if registrant.administrator else REGISTERED_DEFAULT_SCOPES,
    )
    if not registrant.administrator:
        check_self_registration(checked)
    return checked


async def register_client(
    db: Database,
    registrant: Registrant,
    body: object,
    *,
    policy: RedirectUriPolicy,
    pkce: PkceMode,
    initial_access_token: str | None = None,
) -> NewRegistration:
    """RFC 7591 section 3: store the client and its ``oauth_app.created`` event together.

    Given an ``initial_access_token``, one of its uses is spent in the same transaction.
    Without a ``scope`` a self-registered client may ask for ``openid profile email``.
    """
    checked = _checked(registrant, body, policy=policy, pkce=pkce)
    if checked.client_id is not None or checked.client_secret is not None:
        raise InvalidClientMetadata("client_id and client_secret are the server's to choose")
    fields = AppFields(checked.client_name, checked.redirect_uri, active=True)
    registration_access_token = random_secret()
    row, issued = new_app(
        registrant.actor,
        fields,
        checked.metadata,
        registration_token_hash=hash_token(registration_access_token),
    )
    async with db.sessions.begin() as session:
        if initial_access_token is not None and not await registration_tokens.spend_use(
            session, hash_token(initial_access_token), utc_now()
        ):
            raise InvalidToken("The initial access token is unknown, expired or used up")
        await oauth_apps.insert_apps_with_events(await session.connection(), [row])
    confidential = checked.metadata.token_endpoint_auth_method in CONFIDENTIAL_AUTH_METHODS
    return NewRegistration(
        Registration(issued.oauth_app, checked.metadata),
        issued.client_secret if confidential else None,
        registration_access_token,
    )


async def authenticate_registration(db: Database, client_id: str, token: str) -> None:
    """RFC 7592 section 2: the client's registration access token, or ``InvalidToken``."""
    async with db.autocommit.connect() as connection:
        stored = await oauth_apps.registration_token_hash(connection, client_id)
    # Compared even when there is none, so that the time taken tells nothing of the token.
    if not secrets_match(stored or "", hash_token(token)) or stored is None:
        raise InvalidToken("The registration access token is not this client's")


async def read_registration(db: Database, client_id: str) -> Registration:
    """The app whose ``client_id`` this is, with its metadata."""
    async with db.autocommit.connect() as connection:
        return await _registration(connection, client_id)


async def replace_registration(
    db: Database,
    registrant: Registrant,
    client_id: str,
    body: object,
    *,
    policy: RedirectUriPolicy,
    pkce: PkceMode,
) -> Registration:
    """RFC 7592 section 2.2: the body replaces the metadata; omitted fields take defaults."""
    checked = _checked(registrant, body, policy=policy, pkce=pkce)
    if checked.client_id is not None and checked.client_id != client_id:
        raise InvalidClientMetadata("client_id must be the client_id of the URL")
    async with db.sessions.begin() as session:
        before = await _registration(session, client_id, lock=True)
        current = before.oauth_app
        if checked.client_secret is not None:
            # RFC 7592: a client may send its secret back, never choose a new one.
            client = await clients.find_client(session, client_id)
            assert client is not None
            if not client.secret_matches(hash_token(checked.client_secret), utc_now()):
                raise InvalidClientMetadata(
                    "client_secret is not the client's: rotate it with oauth-apps.rotateSecret"
                )
        fields = AppFields(checked.client_name, checked.redirect_uri, current.active)
        updated = await save_app_change(
            session, registrant.actor, current, fields, checked.metadata
        )
        if before.metadata.scope - checked.metadata.scope:
            # Refresh tokens carry the scope they were granted: a scope the app may no
            # longer ask for must not live on in them. Its users consent again.
            await revoke_app_grants(SqlOAuth2Transaction(session), current.id, registrant.actor)
        if checked.metadata.token_endpoint_auth_method is ClientAuthMethod.NONE:
            # A public client has no secret: the old one must not come back with a
            # later switch to a secret method (that takes oauth-apps.rotateSecret).
            await oauth_apps.replace_secret(session, updated, NO_SECRET_HASH, None)
    return Registration(updated, checked.metadata)


async def delete_registration(db: Database, registrant: Registrant, client_id: str) -> None:
    """RFC 7592 section 2.3: delete the app, ending its grants, as ``oauth-apps.delete``."""
    async with db.sessions.begin() as session:
        current = (await _registration(session, client_id, lock=True)).oauth_app
        await delete_locked_app(session, registrant.actor, current)


async def _registration(
    session: AsyncSession | AsyncConnection, client_id: str, *, lock: bool = False
) -> Registration:
    # Locked until commit, so that concurrent changes of one app queue up in order.
    found = await oauth_apps.find_registration(session, client_id, lock=lock)
    if found is None:
        # RFC 7592 section 2: an unknown client is a 401, as for a stale registration token.
        raise InvalidToken("No client has this client_id")
    return Registration(*found)
