"""Login sessions of the authorization pages, stored by the hash of their cookie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.oauth2.sessions import WebSession
from service.persistence.models import User
from service.persistence.models import WebSession as WebSessionRow


async def insert_session(
    session: AsyncSession, session_hash: str, web_session: WebSession, expires_at: datetime
) -> None:
    """Store a login session of the authorization pages."""
    await session.execute(
        insert(WebSessionRow).values(
            session_hash=session_hash,
            user_id=web_session.user_id,
            csrf_token=web_session.csrf_token,
            authenticated_at=web_session.authenticated_at,
            expires_at=expires_at,
        )
    )


async def delete_session(session: AsyncSession, session_hash: str) -> None:
    """End a login session."""
    await session.execute(delete(WebSessionRow).where(WebSessionRow.session_hash == session_hash))


async def delete_user_sessions(session: AsyncSession, user_id: str) -> int:
    """End every login session of a user; return how many there were."""
    result = await session.execute(
        delete(WebSessionRow)
        .where(WebSessionRow.user_id == user_id)
        .returning(WebSessionRow.session_hash)
    )
    return len(result.all())


async def find_session(session: AsyncSession, session_hash: str) -> WebSession | None:
    """The live session with this hash, of an active user."""
    row = (
        await session.execute(
            select(WebSessionRow.user_id, WebSessionRow.csrf_token, WebSessionRow.authenticated_at)
            .join(User, User.id == WebSessionRow.user_id)
            .where(
                WebSessionRow.session_hash == session_hash,
                WebSessionRow.expires_at > func.now(),
                User.active.is_(True),
            )
        )
    ).first()
    return (
        None
        if row is None
        else WebSession(
            user_id=row.user_id,
            csrf_token=row.csrf_token,
            authenticated_at=row.authenticated_at,
        )
    )
