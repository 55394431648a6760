"""Users, roles and login tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.accounts import Principal, UserProfile
from service.persistence.models import LoginToken, Role, RolePermission, User, UserRole

# Built once: SQLAlchemy memoises a statement object's cache key, so executing the same
# object skips rebuilding and re-keying the query on every request.
_PRINCIPAL = (
    select(
        User.id,
        User.username,
        LoginToken.expires_at,
        func.coalesce(
            func.array_agg(RolePermission.permission.distinct()).filter(
                RolePermission.permission.is_not(None)
            ),
            literal_column("'{}'::varchar[]"),
        ),
    )
    .join(LoginToken, LoginToken.user_id == User.id)
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .outerjoin(RolePermission, RolePermission.role == UserRole.role)
    .where(
        LoginToken.token_hash == bindparam("token_hash"),
        LoginToken.user_id == bindparam("user_id"),
        User.active.is_(True),
        or_(LoginToken.expires_at.is_(None), LoginToken.expires_at > func.now()),
    )
    .group_by(User.id, User.username, LoginToken.expires_at)
)


async def find_principal(
    connection: AsyncConnection, user_id: str, token_hash: str
) -> tuple[Principal, datetime | None] | None:
    """Return the active user holding this live token, its permissions and the token's expiry."""
    row = (
        await connection.execute(_PRINCIPAL, {"user_id": user_id, "token_hash": token_hash})
    ).first()
    if row is None:
        return None
    return Principal(row[0], row[1], frozenset(row[3])), row[2]


async def find_credentials(session: AsyncSession, login: str) -> tuple[str, str] | None:
    """Return ``(user id, password hash)`` of the active user with this username or email."""
    statement = select(User.id, User.password_hash).where(
        or_(User.username == login, func.lower(User.email) == login.lower()),
        User.active.is_(True),
    )
    row = (await session.execute(statement)).first()
    return None if row is None else (row[0], row[1])


async def load_profile(session: AsyncSession, user_id: str) -> UserProfile | None:
    """Return the user's profile with its roles."""
    user = await session.get(User, user_id)
    if user is None:
        return None
    roles = await session.scalars(
        select(UserRole.role).where(UserRole.user_id == user_id).order_by(UserRole.role)
    )
    return UserProfile(
        id=user.id,
        username=user.username,
        email=user.email,
        roles=tuple(roles),
        active=user.active,
    )


async def user_id_by_username(session: AsyncSession, username: str) -> str | None:
    """Return the id of the user with this username."""
    return await session.scalar(select(User.id).where(User.username == username))


async def insert_user(
    session: AsyncSession,
    user_id: str,
    username: str,
    *,
    email: str | None,
    password_hash: str,
    roles: tuple[str, ...],
    email_verified: bool = False,
) -> None:
    """Insert a user and its roles."""
    await session.execute(
        insert(User).values(
            id=user_id,
            username=username,
            email=email,
            email_verified=email_verified,
            password_hash=password_hash,
        )
    )
    if roles:
        await session.execute(insert(UserRole), [{"user_id": user_id, "role": r} for r in roles])


async def insert_token(
    session: AsyncSession,
    user_id: str,
    token_hash: str,
    *,
    kind: str,
    created_at: datetime,
    expires_at: datetime | None,
) -> None:
    """Store a token's hash."""
    values = {"token_hash": token_hash, "user_id": user_id, "kind": kind}
    await session.execute(
        insert(LoginToken).values(values | {"created_at": created_at, "expires_at": expires_at})
    )


async def delete_token(session: AsyncSession, user_id: str, token_hash: str) -> None:
    """Revoke one token."""
    await session.execute(
        delete(LoginToken).where(LoginToken.user_id == user_id, LoginToken.token_hash == token_hash)
    )


async def existing_roles(session: AsyncSession, roles: tuple[str, ...]) -> set[str]:
    """Return which of ``roles`` exist."""
    return set(await session.scalars(select(Role.name).where(Role.name.in_(roles))))


async def find_active_user(
    connection: AsyncConnection | AsyncSession, user_id: str
) -> Principal | None:
    """The active user with its permissions, for callers without a login token."""
    permissions = func.coalesce(
        func.array_agg(RolePermission.permission.distinct()).filter(
            RolePermission.permission.is_not(None)
        ),
        literal_column("'{}'::varchar[]"),
    )
    row = (
        await connection.execute(
            select(User.id, User.username, permissions)
            .outerjoin(UserRole, UserRole.user_id == User.id)
            .outerjoin(RolePermission, RolePermission.role == UserRole.role)
            .where(User.id == user_id, User.active.is_(True))
            .group_by(User.id, User.username)
        )
    ).first()
    return None if row is None else Principal(row[0], row[1], frozenset(row[2]))
