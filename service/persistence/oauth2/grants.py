"""Grants: a user's consent to an app, revoked with every token of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.oauth2.grants import ConnectedApp, Grant
from service.persistence.models import OAuthAppRow, OAuthGrant, OAuthToken
from service.persistence.oauth2.rows import (
    CLIENT_COLUMNS,
    GRANT_COLUMNS,
    client_from,
    grant_from,
    scope_column,
)

_GRANTS = select(*GRANT_COLUMNS).join(OAuthAppRow, OAuthAppRow.id == OAuthGrant.app_id)


async def live_grant(session: AsyncSession, app_id: str, user_id: str | None) -> Grant | None:
    """The user's unrevoked grant of this app, if any (``user_id`` None: the client's own)."""
    row = (
        await session.execute(
            _GRANTS.where(
                OAuthGrant.app_id == app_id,
                OAuthGrant.user_id.is_(None) if user_id is None else OAuthGrant.user_id == user_id,
                OAuthGrant.revoked_at.is_(None),
            )
        )
    ).first()
    return None if row is None else grant_from(row)


async def live_grants_of_app(session: AsyncSession, app_id: str) -> list[Grant]:
    """Every unrevoked grant of an app."""
    rows = await session.execute(
        _GRANTS.where(OAuthGrant.app_id == app_id, OAuthGrant.revoked_at.is_(None))
    )
    return [grant_from(row) for row in rows]


async def connected_apps(session: AsyncSession, user_id: str) -> list[ConnectedApp]:
    """The user's live grants with their apps, newest first; last used: the newest token."""
    last_used = (
        select(func.max(OAuthToken.created_at))
        .where(OAuthToken.grant_id == OAuthGrant.id)
        .scalar_subquery()
        .label("last_used")
    )
    rows = await session.execute(
        select(*GRANT_COLUMNS, *CLIENT_COLUMNS, last_used)
        .join(OAuthAppRow, OAuthAppRow.id == OAuthGrant.app_id)
        .where(OAuthGrant.user_id == user_id, OAuthGrant.revoked_at.is_(None))
        .order_by(OAuthGrant.created_at.desc(), OAuthGrant.id)
    )
    return [_connected_app(row) for row in rows]


def _connected_app(row: Row[*tuple[Any, ...]]) -> ConnectedApp:
    client = client_from(row)
    return ConnectedApp(grant_from(row), client.name, client.logo_uri, row.last_used)


async def live_grant_of_user(session: AsyncSession, grant_id: str, user_id: str) -> Grant | None:
    """This grant when it is live and the user's own (another user's id finds nothing)."""
    row = (
        await session.execute(
            _GRANTS.where(
                OAuthGrant.id == grant_id,
                OAuthGrant.user_id == user_id,
                OAuthGrant.revoked_at.is_(None),
            )
        )
    ).first()
    return None if row is None else grant_from(row)


async def insert_grant(session: AsyncSession, grant: Grant) -> bool:
    """Record a new grant; False when the user's live grant of the app exists already.

    Two approvals at once (a double click, two tabs) would otherwise both insert, and
    the second would fail on the one-live-grant index.
    """
    inserted = await session.scalar(
        postgresql.insert(OAuthGrant)
        .values(
            id=grant.id,
            app_id=grant.app_id,
            user_id=grant.user_id,
            scope=scope_column(grant.scope),
            created_at=grant.created_at,
        )
        .on_conflict_do_nothing(
            index_elements=[OAuthGrant.app_id, OAuthGrant.user_id],
            index_where=OAuthGrant.revoked_at.is_(None),
        )
        .returning(OAuthGrant.id)
    )
    return inserted is not None


async def widen_grant(session: AsyncSession, grant_id: str, scope: frozenset[str]) -> None:
    """Record that the user allowed more scopes for this grant."""
    await session.execute(
        update(OAuthGrant).where(OAuthGrant.id == grant_id).values(scope=scope_column(scope))
    )


async def revoke_grant(session: AsyncSession, grant_id: str, now: datetime) -> bool:
    """Revoke a grant and every token of it; return whether it was live."""
    revoked = await session.scalar(
        update(OAuthGrant)
        .where(OAuthGrant.id == grant_id, OAuthGrant.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(OAuthGrant.id)
    )
    await revoke_tokens(session, OAuthToken.grant_id == grant_id, now)
    return revoked is not None


async def revoke_tokens(session: AsyncSession, which: ColumnElement[bool], now: datetime) -> None:
    """Revoke the live tokens that ``which`` selects."""
    await session.execute(
        update(OAuthToken).where(which, OAuthToken.revoked_at.is_(None)).values(revoked_at=now)
    )


async def count_live_grants(connection: AsyncConnection) -> int:
    """How many grants are not revoked (a gauge)."""
    return int(
        await connection.scalar(
            select(func.count()).select_from(OAuthGrant).where(OAuthGrant.revoked_at.is_(None))
        )
        or 0
    )
