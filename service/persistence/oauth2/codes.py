"""Authorization codes: stored hashed, single use, kept after use to detect a replay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.oauth2.scopes import parse_scope
from service.domain.oauth2.tokens import StoredCode
from service.persistence.models import OAuthAppRow, OAuthCode, OAuthGrant, User
from service.persistence.oauth2.rows import (
    GRANT_COLUMNS,
    USER_COLUMNS,
    grant_from,
    scope_column,
    user_from,
)


async def insert_code(session: AsyncSession, code_hash: str, code: StoredCode) -> None:
    """Store a new authorization code's hash."""
    await session.execute(
        insert(OAuthCode).values(
            code_hash=code_hash,
            grant_id=code.grant.id,
            redirect_uri=code.redirect_uri,
            redirect_uri_sent=code.redirect_uri_sent,
            code_challenge=code.code_challenge,
            scope=scope_column(code.scope),
            nonce=code.nonce,
            auth_time=code.auth_time,
            resource=code.resource,
            expires_at=code.expires_at,
        )
    )


async def take_code(session: AsyncSession, code_hash: str, now: datetime) -> StoredCode | None:
    """Return the code (locked until commit) and mark it used; it stays for reuse detection."""
    row = (
        await session.execute(
            select(
                *GRANT_COLUMNS,
                OAuthCode.redirect_uri,
                OAuthCode.redirect_uri_sent,
                OAuthCode.code_challenge,
                OAuthCode.scope,
                OAuthCode.nonce,
                OAuthCode.auth_time,
                OAuthCode.resource,
                OAuthCode.expires_at,
                OAuthCode.used_at,
                *USER_COLUMNS,
            )
            .join(OAuthGrant, OAuthGrant.id == OAuthCode.grant_id)
            .join(OAuthAppRow, OAuthAppRow.id == OAuthGrant.app_id)
            .outerjoin(User, User.id == OAuthGrant.user_id)
            .where(OAuthCode.code_hash == code_hash)
            .with_for_update(of=OAuthCode)
        )
    ).first()
    if row is None:
        return None
    await session.execute(
        update(OAuthCode)
        .where(OAuthCode.code_hash == code_hash, OAuthCode.used_at.is_(None))
        .values(used_at=now)
    )
    return StoredCode(
        grant=grant_from(row),
        redirect_uri=row.redirect_uri,
        redirect_uri_sent=row.redirect_uri_sent,
        code_challenge=row.code_challenge,
        expires_at=row.expires_at,
        used_at=row.used_at,
        scope=parse_scope(row.scope),
        nonce=row.nonce,
        auth_time=row.auth_time,
        resource=row.resource,
        user=user_from(row, row.grant_user_id),
    )
