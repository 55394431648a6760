"""Registered apps as clients of the authorization server."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.oauth2.clients import Client
from service.persistence.models import OAuthAppRow
from service.persistence.oauth2.rows import CLIENT_COLUMNS, client_from


async def find_client(session: AsyncSession | AsyncConnection, client_id: str) -> Client | None:
    """The app whose ``clientId`` this is."""
    row = (
        await session.execute(select(*CLIENT_COLUMNS).where(OAuthAppRow.client_id == client_id))
    ).first()
    return None if row is None else client_from(row)
