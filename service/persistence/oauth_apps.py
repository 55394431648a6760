"""OAuth apps and their outbox events, written together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, literal, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.accounts import Actor
from service.domain.events import Event
from service.domain.idempotency import IdempotentRequest
from service.domain.oauth2.client_metadata import ClientMetadata
from service.domain.oauth_apps import OAuthApp
from service.domain.pagination import Page
from service.domain.text import storable
from service.persistence import idempotency
from service.persistence.database import dump_json
from service.persistence.models import OAuthAppCount, OAuthAppRow

_APP_COLUMNS = (
    OAuthAppRow.id,
    OAuthAppRow.name,
    OAuthAppRow.redirect_uri,
    OAuthAppRow.active,
    OAuthAppRow.client_id,
    OAuthAppRow.created_at,
    OAuthAppRow.updated_at,
    OAuthAppRow.created_by_id,
    OAuthAppRow.created_by_username,
    OAuthAppRow.updated_by_id,
    OAuthAppRow.updated_by_username,
)


def _app_from_row(row: Any) -> OAuthApp:
    # Positional, in _APP_COLUMNS' order: a list page builds fifty of these.
    (
        app_id,
        name,
        redirect_uri,
        active,
        client_id,
        created_at,
        updated_at,
        created_by_id,
        created_by_username,
        updated_by_id,
        updated_by_username,
    ) = row[:11]
    return OAuthApp(
        id=app_id,
        name=name,
        redirect_uri=redirect_uri,
        active=active,
        client_id=client_id,
        created_at=created_at,
        updated_at=updated_at,
        created_by=Actor(created_by_id, created_by_username),
        updated_by=Actor(updated_by_id, updated_by_username) if updated_by_username else None,
    )


@dataclass(frozen=True, slots=True)
class NewApp:
    """A new app with its secret's hash, metadata, creation event and idempotency key."""

    oauth_app: OAuthApp
    secret_hash: str
    client_metadata: ClientMetadata
    event: Event
    reservation: IdempotentRequest | None
    # RFC 7592's registration access token, for a client that registered itself.
    registration_token_hash: str | None = None


# Apps, their events and (given a key) their stored answers, for any number of creates,
# in ONE statement: atomic on its own, so in autocommit it costs a single round trip.
# The idempotency part is idempotency.py's, spliced in here so that it commits with them.
_INSERT_APPS_WITH_EVENTS = text(
    f"""
    WITH input AS (
        SELECT * FROM unnest(
            CAST(:ids AS varchar[]), CAST(:client_ids AS varchar[]),
            CAST(:secret_hashes AS varchar[]), CAST(:names AS text[]),
            CAST(:redirect_uris AS text[]), CAST(:actives AS boolean[]),
            CAST(:created_ats AS timestamptz[]), CAST(:actor_ids AS varchar[]),
            CAST(:actor_usernames AS varchar[]), CAST(:responses AS json[]),
            CAST(:idempotency_keys AS varchar[]), CAST(:owners AS uuid[]),
            CAST(:event_ids AS uuid[]),
            CAST(:event_types AS varchar[]), CAST(:payloads AS json[]),
            CAST(:client_metadatas AS jsonb[]), CAST(:registration_token_hashes AS varchar[])
        ) AS t (id, client_id, secret_hash, name, redirect_uri, active, created_at, actor_id,
                actor_username, response, idempotency_key, owner, event_id, event_type, payload,
                client_metadata, registration_token_hash)
    ), owned AS ({idempotency.COMPLETE_RESERVATIONS_FROM_INPUT}
    ), accepted AS (
        SELECT * FROM input
        WHERE idempotency_key IS NULL OR id IN (SELECT id FROM owned)
    ), app AS (
        INSERT INTO oauth_apps (id, client_id, client_secret_hash, name, redirect_uri, active,
                                created_at, updated_at, created_by_id, created_by_username,
                                client_metadata, registration_token_hash)
        SELECT id, client_id, secret_hash, name, redirect_uri, active,
               created_at, created_at, actor_id, actor_username, client_metadata,
               registration_token_hash
        FROM accepted
    )
    INSERT INTO outbox (event_id, event_type, aggregate_id, payload, created_at)
    SELECT event_id, event_type, id, payload, created_at FROM accepted
    RETURNING aggregate_id
    """  # noqa: S608 - built from constants only
)


async def insert_apps_with_events(connection: AsyncConnection, rows: Sequence[NewApp]) -> set[str]:
    """Insert new apps with their creation events (and stored answers) in one statement.

    Return the ids of the apps written: all but those whose reservation was taken over.
    """
    result = await connection.execute(
        _INSERT_APPS_WITH_EVENTS,
        {
            "ids": [row.oauth_app.id for row in rows],
            "client_ids": [row.oauth_app.client_id for row in rows],
            "secret_hashes": [row.secret_hash for row in rows],
            "names": [row.oauth_app.name for row in rows],
            "redirect_uris": [row.oauth_app.redirect_uri for row in rows],
            "actives": [row.oauth_app.active for row in rows],
            "created_ats": [row.oauth_app.created_at for row in rows],
            "actor_ids": [row.oauth_app.created_by.id for row in rows],
            "actor_usernames": [row.oauth_app.created_by.username for row in rows],
            "responses": [
                dump_json(row.oauth_app.to_document()) if row.reservation is not None else None
                for row in rows
            ],
            "idempotency_keys": [row.reservation.key if row.reservation else None for row in rows],
            "owners": [row.reservation.owner if row.reservation else None for row in rows],
            "event_ids": [row.event.id for row in rows],
            "event_types": [row.event.type.value for row in rows],
            "payloads": [dump_json(row.event.document) for row in rows],
            "client_metadatas": [dump_json(row.client_metadata.to_document()) for row in rows],
            "registration_token_hashes": [row.registration_token_hash for row in rows],
        },
    )
    return {app_id for (app_id,) in result}


async def find_app(
    session: AsyncSession | AsyncConnection,
    *,
    app_id: str | None = None,
    client_id: str | None = None,
    lock: bool = False,
) -> OAuthApp | None:
    """Return the app with this ``_id`` or ``clientId``; ``lock`` holds it until commit."""
    if not all(storable(value) for value in (app_id, client_id) if value is not None):
        return None  # no app has such an identifier, and PostgreSQL could not compare it
    statement = select(*_APP_COLUMNS)
    if app_id is not None:
        statement = statement.where(OAuthAppRow.id == app_id)
    if client_id is not None:
        statement = statement.where(OAuthAppRow.client_id == client_id)
    if lock:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).first()
    return None if row is None else _app_from_row(row)


async def find_registration(
    session: AsyncSession | AsyncConnection, client_id: str, *, lock: bool = False
) -> tuple[OAuthApp, ClientMetadata] | None:
    """Return the app with this ``clientId`` and its client metadata, read together."""
    if not storable(client_id):
        return None
    statement = select(*_APP_COLUMNS, OAuthAppRow.client_metadata).where(
        OAuthAppRow.client_id == client_id
    )
    if lock:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).first()
    if row is None:
        return None
    return _app_from_row(row), ClientMetadata.from_document(row.client_metadata)


async def registration_token_hash(
    session: AsyncSession | AsyncConnection, client_id: str
) -> str | None:
    """The hash of the registration access token of the app with this ``clientId``, if any."""
    if not storable(client_id):
        return None
    statement = select(OAuthAppRow.registration_token_hash).where(
        OAuthAppRow.client_id == client_id
    )
    return await session.scalar(statement)


_NEWEST_FIRST = (OAuthAppRow.created_at.desc(), OAuthAppRow.id.desc())
_TOTAL = select(func.coalesce(func.sum(OAuthAppCount.apps), 0)).scalar_subquery()


async def list_apps(
    connection: AsyncSession | AsyncConnection, page: Page
) -> tuple[list[OAuthApp], bool, int]:
    """Return one page of apps, newest first, whether more follow, and the total."""
    # The skipped rows are walked in the (created_at, id) index alone, then only the
    # page's rows are read from the table: an offset of 10,000 touches 10,000 index
    # entries, not 10,000 apps. The total rides along in the same statement.
    ids = select(OAuthAppRow.id).order_by(*_NEWEST_FIRST)
    if page.after is not None:
        ids = ids.where(
            tuple_(OAuthAppRow.created_at, OAuthAppRow.id)
            < tuple_(literal(page.after.created_at), literal(page.after.id))
        )
    ids = ids.offset(page.offset).limit(page.count + 1)  # one more tells whether more follow
    rows = (
        await connection.execute(
            select(*_APP_COLUMNS, _TOTAL)
            .where(OAuthAppRow.id.in_(ids.scalar_subquery()))
            .order_by(*_NEWEST_FIRST)
        )
    ).all()
    total = rows[0][-1] if rows else await connection.scalar(select(_TOTAL))
    found = [_app_from_row(row) for row in rows[: page.count]]
    return found, len(rows) > page.count, int(total or 0)


async def save_app(
    session: AsyncSession, app: OAuthApp, metadata: ClientMetadata | None = None
) -> None:
    """Write an updated app's fields, and its client metadata when given."""
    assert app.updated_by is not None
    values: dict[str, Any] = {
        "name": app.name,
        "redirect_uri": app.redirect_uri,
        "active": app.active,
        "updated_at": app.updated_at,
        "updated_by_id": app.updated_by.id,
        "updated_by_username": app.updated_by.username,
    }
    if metadata is not None:
        values["client_metadata"] = metadata.to_document()
    await session.execute(update(OAuthAppRow).where(OAuthAppRow.id == app.id).values(values))


async def replace_secret(
    session: AsyncSession, app: OAuthApp, secret_hash: str, previous_until: datetime | None
) -> None:
    """Store a new secret hash; the old one matches until ``previous_until`` (None: commit)."""
    assert app.updated_by is not None
    await session.execute(
        update(OAuthAppRow)
        .where(OAuthAppRow.id == app.id)
        .values(
            client_secret_hash=secret_hash,
            # The secret replaced now; an older previous one is forgotten at once.
            previous_secret_hash=None if previous_until is None else OAuthAppRow.client_secret_hash,
            previous_secret_expires_at=previous_until,
            updated_at=app.updated_at,
            updated_by_id=app.updated_by.id,
            updated_by_username=app.updated_by.username,
        )
    )


async def purge_expired_previous_secrets(connection: AsyncConnection, limit: int) -> int:
    """Forget at most ``limit`` previous secrets whose overlap has ended; return how many."""
    expired = (
        select(OAuthAppRow.id)
        .where(OAuthAppRow.previous_secret_expires_at < func.now())
        .limit(limit)
        .scalar_subquery()
    )
    result = await connection.execute(
        update(OAuthAppRow)
        .where(OAuthAppRow.id.in_(expired))
        .values(previous_secret_hash=None, previous_secret_expires_at=None)
    )
    return result.rowcount or 0


async def delete_app(session: AsyncSession, app_id: str) -> None:
    """Delete an app."""
    await session.execute(delete(OAuthAppRow).where(OAuthAppRow.id == app_id))
