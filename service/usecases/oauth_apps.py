"""Creating and managing OAuth apps; every change writes its event in the same transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.accounts import Actor, Principal
from service.domain.backoff import Backoff
from service.domain.errors import AppNotFound
from service.domain.events import EventType, app_event, secret_rotated_event
from service.domain.idempotency import IdempotentRequest, idempotent_request
from service.domain.ids import hash_token, object_id, random_id, random_secret
from service.domain.oauth2.client_metadata import ClientMetadata
from service.domain.oauth2.pkce import PkceMode
from service.domain.oauth_apps import (
    APP_ID_SCHEMA,
    CREATE_SCHEMA,
    GET_QUERY_SCHEMA,
    ROTATE_SCHEMA,
    UPDATE_SCHEMA,
    AppFields,
    OAuthApp,
    app_not_found,
    check_app_fields,
)
from service.domain.pagination import Cursor, Page
from service.domain.redirect_uris import RedirectUriPolicy
from service.domain.timestamps import utc_now
from service.persistence import idempotency, oauth_apps, outbox
from service.persistence.database import Database, is_transient_database_error
from service.persistence.oauth2.store import SqlOAuth2Transaction
from service.persistence.oauth_apps import NewApp
from service.usecases.group_commit import AppWriter
from service.usecases.oauth2.revocation import revoke_app_grants


@dataclass(frozen=True, slots=True)
class IssuedApp:
    """An app with the plaintext secret that only this response may show."""

    oauth_app: OAuthApp
    client_secret: str


@dataclass(frozen=True, slots=True)
class ReplayedApp:
    """The stored answer to an earlier request with the same ``Idempotency-Key``."""

    document: dict[str, Any]


async def register_oauth_app(
    db: Database,
    writer: AppWriter,
    principal: Principal,
    *,
    body: object,
    policy: RedirectUriPolicy,
    idempotency_key: str | None = None,
    pkce: PkceMode = PkceMode.REQUIRED,
) -> IssuedApp | ReplayedApp:
    """Validate ``body`` like Rocket.Chat's ``oauth-apps.create``; store the app and its event.

    The ``writer`` commits concurrent registrations together (group commit). The app's
    ``require_pkce`` is ``pkce`` (``OAUTH_PKCE``) now, whatever the setting says later.
    """
    fields = check_app_fields(CREATE_SCHEMA.validate(body), policy, "addOAuthApp")
    metadata = ClientMetadata(require_pkce=pkce is PkceMode.REQUIRED)
    if idempotency_key is None:
        return await _insert_app(writer, principal.actor, fields, metadata, request=None)
    request = idempotent_request(principal.id, idempotency_key, body)
    async with db.sessions.begin() as session:
        stored = await idempotency.reserve(session, request, utc_now())
    if stored is not None:
        return ReplayedApp(stored)
    try:
        return await _insert_app(writer, principal.actor, fields, metadata, request=request)
    except BaseException:
        # Free the key so the client can retry; shielded so a cancelled request still does.
        await asyncio.shield(_release(db, request))
        raise


def new_app(
    actor: Actor,
    fields: AppFields,
    metadata: ClientMetadata,
    *,
    request: IdempotentRequest | None = None,
    registration_token_hash: str | None = None,
) -> tuple[NewApp, IssuedApp]:
    """A new app's row and ``oauth_app.created`` event, and the answer that shows its secret."""
    now = utc_now()
    secret = random_secret()
    oauth_app = OAuthApp(
        id=object_id(),
        name=fields.name,
        redirect_uri=fields.redirect_uri,
        active=fields.active,
        client_id=random_id(),
        created_at=now,
        updated_at=now,
        created_by=actor,
    )
    row = NewApp(
        oauth_app=oauth_app,
        secret_hash=hash_token(secret),
        client_metadata=metadata,
        event=app_event(EventType.CREATED, oauth_app, actor=actor, now=now),
        reservation=request,
        registration_token_hash=registration_token_hash,
    )
    return row, IssuedApp(oauth_app, secret)


async def _insert_app(
    writer: AppWriter,
    actor: Actor,
    fields: AppFields,
    metadata: ClientMetadata,
    *,
    request: IdempotentRequest | None,
) -> IssuedApp:
    row, issued = new_app(actor, fields, metadata, request=request)
    await writer.write(row)
    return issued


# Releases that must outlive their request (the database was away when it failed):
# kept here so that the tasks are not garbage-collected while they retry.
_releases_in_background: set[asyncio.Task[None]] = set()


async def _release(db: Database, request: IdempotentRequest) -> None:
    if not await _try_release(db, request):
        # This process lives on and holds its owner lock, so nobody else may take the
        # reservation over: keep trying until the database answers.
        task = asyncio.create_task(_release_when_possible(db, request))
        _releases_in_background.add(task)
        task.add_done_callback(_releases_in_background.discard)


async def _try_release(db: Database, request: IdempotentRequest) -> bool:
    try:
        async with db.sessions.begin() as session:
            await idempotency.release(session, request)
    except Exception as error:
        if not is_transient_database_error(error):
            raise
        return False
    return True


async def _release_when_possible(db: Database, request: IdempotentRequest) -> None:
    backoff = Backoff(initial=0.5, cap=10.0)
    while True:
        await asyncio.sleep(backoff.next_delay())
        if await _try_release(db, request):
            return


@dataclass(frozen=True, slots=True)
class AppList:
    """One page of apps, newest first, with what a client needs to ask for the next."""

    oauth_apps: list[OAuthApp]
    page: Page
    total: int
    next_cursor: Cursor | None


async def list_oauth_apps(db: Database, query: Mapping[str, str]) -> AppList:
    """Return the page of apps the query asks for."""
    page = Page.from_query(query)
    async with db.autocommit.connect() as connection:
        found, more, total = await oauth_apps.list_apps(connection, page)
    last = found[-1] if more and found else None
    next_cursor = None if last is None else Cursor(last.created_at, last.id)
    return AppList(found, page, total, next_cursor)


async def get_oauth_app(db: Database, query: Mapping[str, object]) -> tuple[OAuthApp, bool]:
    """Return the app the query names, and whether it used the deprecated ``appId``."""
    branch, valid = GET_QUERY_SCHEMA.validate(query)
    identifier = next(iter(valid.values()))
    assert isinstance(identifier, str)
    async with db.autocommit.connect() as connection:
        if branch == 1:
            found = await oauth_apps.find_app(connection, client_id=identifier)
        else:
            found = await oauth_apps.find_app(connection, app_id=identifier)
    if found is None:
        raise AppNotFound()
    return found, branch == 2


async def update_oauth_app(
    db: Database,
    principal: Principal,
    body: object,
    *,
    policy: RedirectUriPolicy,
) -> OAuthApp:
    """Change an app like Rocket.Chat's ``updateOAuthApp``; write ``oauth_app.updated``."""
    valid = UPDATE_SCHEMA.validate(body)
    app_id = valid["appId"]
    assert isinstance(app_id, str)
    async with db.sessions.begin() as session:
        # Locked until commit, so that concurrent changes of one app queue up in order.
        current = await oauth_apps.find_app(session, app_id=app_id, lock=True)
        fields = check_app_fields(valid, policy, "updateOAuthApp", app_found=current is not None)
        assert current is not None
        return await save_app_change(session, principal.actor, current, fields)


async def save_app_change(
    session: AsyncSession,
    actor: Actor,
    current: OAuthApp,
    fields: AppFields,
    metadata: ClientMetadata | None = None,
) -> OAuthApp:
    """Change a locked app and write ``oauth_app.updated``; switching it off ends its grants."""
    now = utc_now()
    updated = current.with_fields(fields, actor, now)
    if current.active and not updated.active:
        await revoke_app_grants(SqlOAuth2Transaction(session), current.id, actor)
    await oauth_apps.save_app(session, updated, metadata)
    await outbox.add_event(session, app_event(EventType.UPDATED, updated, actor=actor, now=now))
    return updated


async def delete_oauth_app(db: Database, principal: Principal, body: object) -> None:
    """Delete an app; ``oauth_app.deleted`` carries it as it was."""
    app_id = _app_id(body)
    async with db.sessions.begin() as session:
        current = await oauth_apps.find_app(session, app_id=app_id, lock=True)
        if current is None:
            raise app_not_found("deleteOAuthApp")
        await delete_locked_app(session, principal.actor, current)


async def delete_locked_app(session: AsyncSession, actor: Actor, current: OAuthApp) -> None:
    """Delete a locked app, ending its grants; ``oauth_app.deleted`` carries it as it was."""
    await revoke_app_grants(SqlOAuth2Transaction(session), current.id, actor)
    await oauth_apps.delete_app(session, current.id)
    await outbox.add_event(
        session, app_event(EventType.DELETED, current, actor=actor, now=utc_now())
    )


async def rotate_oauth_app_secret(db: Database, principal: Principal, body: object) -> IssuedApp:
    """Replace an app's secret; the new one is shown once, the event carries neither.

    With ``graceSeconds`` the previous secret keeps working that long (the event says
    until when), so that a client's deployments can change over without an outage.
    """
    valid = ROTATE_SCHEMA.validate(body)
    app_id, grace = valid["appId"], valid.get("graceSeconds", 0)
    assert isinstance(app_id, str)
    assert isinstance(grace, int)
    secret = random_secret()
    async with db.sessions.begin() as session:
        current = await oauth_apps.find_app(session, app_id=app_id, lock=True)
        if current is None:
            raise app_not_found("rotateOAuthAppSecret")
        now = utc_now()
        rotated = current.touched(principal.actor, now)
        previous_until = now + timedelta(seconds=grace) if grace else None
        await oauth_apps.replace_secret(session, rotated, hash_token(secret), previous_until)
        event = secret_rotated_event(rotated, actor=principal.actor, now=now, until=previous_until)
        await outbox.add_event(session, event)
    return IssuedApp(rotated, secret)


def _app_id(body: object) -> str:
    app_id = APP_ID_SCHEMA.validate(body)["appId"]
    assert isinstance(app_id, str)
    return app_id
