"""RFC 7592: an administrator reads, replaces or deletes a client's registration.

Changes go through ``oauth-apps.update``'s and ``oauth-apps.delete``'s code, so they
are the same ``oauth_app.updated`` and ``oauth_app.deleted`` events.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.accounts import Principal
from service.domain.ids import hash_token
from service.domain.oauth2.client_metadata import ClientMetadata, check_registration
from service.domain.oauth2.clients import NO_SECRET_HASH, ClientAuthMethod, secrets_match
from service.domain.oauth2.errors import InvalidClientMetadata, InvalidToken
from service.domain.oauth2.pkce import PkceMode
from service.domain.oauth_apps import AppFields, OAuthApp
from service.domain.redirect_uris import RedirectUriPolicy
from service.persistence import oauth_apps
from service.persistence.database import Database
from service.persistence.oauth2 import clients
from service.usecases.oauth2.grant_types import GRANT_TYPES
from service.usecases.oauth_apps import delete_locked_app, save_app_change


@dataclass(frozen=True, slots=True)
class Registration:
    """An app and its client metadata."""

    oauth_app: OAuthApp
    metadata: ClientMetadata


async def read_registration(db: Database, client_id: str) -> Registration:
    """The app whose ``client_id`` this is, with its metadata."""
    async with db.autocommit.connect() as connection:
        return await _registration(connection, client_id)


async def replace_registration(
    db: Database,
    principal: Principal,
    client_id: str,
    body: object,
    *,
    policy: RedirectUriPolicy,
    pkce: PkceMode,
) -> Registration:
    """RFC 7592 section 2.2: the body replaces the metadata; omitted fields take defaults."""
    checked = check_registration(
        body,
        policy=policy,
        grant_types=GRANT_TYPES.keys(),
        pkce_by_default=pkce is PkceMode.REQUIRED,
    )
    if checked.client_id is not None and checked.client_id != client_id:
        raise InvalidClientMetadata("client_id must be the client_id of the URL")
    async with db.sessions.begin() as session:
        current = (await _registration(session, client_id, lock=True)).oauth_app
        if checked.client_secret is not None:
            # RFC 7592: a client may send its secret back, never choose a new one.
            client = await clients.find_client(session, client_id)
            assert client is not None
            if not secrets_match(client.secret_hash, hash_token(checked.client_secret)):
                raise InvalidClientMetadata(
                    "client_secret is not the client's: rotate it with oauth-apps.rotateSecret"
                )
        fields = AppFields(checked.client_name, checked.redirect_uri, current.active)
        updated = await save_app_change(session, principal, current, fields, checked.metadata)
        if checked.metadata.token_endpoint_auth_method is ClientAuthMethod.NONE:
            # A public client has no secret: the old one must not come back with a
            # later switch to a secret method (that takes oauth-apps.rotateSecret).
            await oauth_apps.replace_secret(session, updated, NO_SECRET_HASH)
    return Registration(updated, checked.metadata)


async def delete_registration(db: Database, principal: Principal, client_id: str) -> None:
    """RFC 7592 section 2.3: delete the app, ending its grants, as ``oauth-apps.delete``."""
    async with db.sessions.begin() as session:
        current = (await _registration(session, client_id, lock=True)).oauth_app
        await delete_locked_app(session, principal, current)


async def _registration(
    session: AsyncSession | AsyncConnection, client_id: str, *, lock: bool = False
) -> Registration:
    # Locked until commit, so that concurrent changes of one app queue up in order.
    found = await oauth_apps.find_registration(session, client_id, lock=lock)
    if found is None:
        # RFC 7592 section 2: an unknown client is a 401, as for a stale registration token.
        raise InvalidToken("No client has this client_id")
    return Registration(*found)
