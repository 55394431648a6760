"""Permissions and the roles that hold them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.permissions import Permission
from service.persistence.models import Permission as PermissionRow
from service.persistence.models import RolePermission


async def list_permissions(
    session: AsyncSession, *, updated_since: datetime | None = None
) -> list[Permission]:
    """Return every permission (or those changed after ``updated_since``), by id."""
    roles = func.coalesce(
        func.array_agg(RolePermission.role.distinct()).filter(RolePermission.role.is_not(None)),
        literal_column("'{}'::varchar[]"),
    )
    statement = (
        select(PermissionRow.id, roles, PermissionRow.updated_at)
        .outerjoin(RolePermission, RolePermission.permission == PermissionRow.id)
        .group_by(PermissionRow.id, PermissionRow.updated_at)
        .order_by(PermissionRow.id)
    )
    if updated_since is not None:
        statement = statement.where(PermissionRow.updated_at > updated_since)
    rows = await session.execute(statement)
    return [Permission(row[0], tuple(sorted(row[1])), row[2]) for row in rows]


async def lock_permissions(session: AsyncSession, ids: Collection[str]) -> set[str]:
    """Lock these permissions until commit (in id order); return those that exist."""
    found = await session.scalars(
        select(PermissionRow.id)
        .where(PermissionRow.id.in_(sorted(ids)))
        .order_by(PermissionRow.id)
        .with_for_update()
    )
    return set(found)


async def set_roles(
    session: AsyncSession, permission: str, roles: Sequence[str], now: datetime
) -> None:
    """Make exactly ``roles`` hold ``permission``."""
    await session.execute(delete(RolePermission).where(RolePermission.permission == permission))
    if roles:
        await session.execute(
            insert(RolePermission), [{"role": role, "permission": permission} for role in roles]
        )
    await session.execute(
        update(PermissionRow).where(PermissionRow.id == permission).values(updated_at=now)
    )
