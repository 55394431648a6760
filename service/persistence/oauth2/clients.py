"""Registered apps as clients of the authorization server."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.oauth2.clients import Client, ClientAuthMethod, registered_uris
from service.persistence.models import OAuthAppRow
from service.persistence.oauth2.rows import CLIENT_COLUMNS, client_from


async def find_client(session: AsyncSession | AsyncConnection, client_id: str) -> Client | None:
    """The app whose ``clientId`` this is."""
    row = (
        await session.execute(select(*CLIENT_COLUMNS).where(OAuthAppRow.client_id == client_id))
    ).first()
    return None if row is None else client_from(row)


async def public_redirect_uris(connection: AsyncConnection) -> list[str]:
    """The redirect URIs of every active public client (their pages may call us: CORS)."""
    rows = await connection.scalars(
        select(OAuthAppRow.redirect_uri).where(
            OAuthAppRow.active,
            OAuthAppRow.client_metadata["token_endpoint_auth_method"].astext
            == ClientAuthMethod.NONE.value,
        )
    )
    return [uri for stored in rows for uri in registered_uris(stored)]
