"""Users, roles and login tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.domain.accounts import Principal, TokenListing, UserListing, UserProfile
from service.persistence.models import LoginToken, Role, RolePermission, User, UserRole

# What ``tokens list`` shows and ``tokens revoke --id`` takes: 16 hex characters of the
# SHA-256 of the stored hash, stable and of no use to anyone who reads it.
_TOKEN_ID = func.left(
    func.encode(func.sha256(func.convert_to(LoginToken.token_hash, "UTF8")), "hex"), 16
)
_LIVE_TOKEN = or_(LoginToken.expires_at.is_(None), LoginToken.expires_at > func.now())

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
        _LIVE_TOKEN,
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


async def list_users(session: AsyncSession) -> list[UserListing]:
    """Every user with its roles, oldest first."""
    roles = func.coalesce(
        func.array_agg(UserRole.role).filter(UserRole.role.is_not(None)),
        literal_column("'{}'::varchar[]"),
    )
    rows = await session.execute(
        select(User.id, User.username, User.email, User.active, User.created_at, roles)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .group_by(User.id)
        .order_by(User.created_at, User.id)
    )
    return [
        UserListing(
            UserProfile(row.id, row.username, row.email, tuple(sorted(row[5])), row.active),
            row.created_at,
        )
        for row in rows
    ]


async def set_active(session: AsyncSession, user_id: str, active: bool) -> None:
    """Enable or disable a user; the ``auth_changed`` trigger makes every process forget it."""
    await session.execute(
        update(User).where(User.id == user_id).values(active=active, updated_at=func.now())
    )


async def set_password_hash(session: AsyncSession, user_id: str, password_hash: str) -> None:
    """Replace a user's password hash."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(password_hash=password_hash, updated_at=func.now())
    )


async def live_tokens(session: AsyncSession, user_id: str) -> list[TokenListing]:
    """The user's tokens that still work, oldest first."""
    rows = await session.execute(
        select(_TOKEN_ID, LoginToken.kind, LoginToken.created_at, LoginToken.expires_at)
        .where(LoginToken.user_id == user_id, _LIVE_TOKEN)
        .order_by(LoginToken.created_at)
    )
    return [TokenListing(row[0], row.kind, row.created_at, row.expires_at) for row in rows]


async def delete_tokens(
    session: AsyncSession,
    user_id: str,
    *,
    ids: frozenset[str] | None = None,
    kind: str | None = None,
) -> set[str]:
    """Revoke the user's tokens with these ids or of this kind (all without either); their ids."""
    statement = delete(LoginToken).where(LoginToken.user_id == user_id)
    if ids is not None:
        statement = statement.where(_TOKEN_ID.in_(ids))
    if kind is not None:
        statement = statement.where(LoginToken.kind == kind)
    return set(await session.scalars(statement.returning(_TOKEN_ID)))


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
