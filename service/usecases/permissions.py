"""Reading and changing which roles hold which permission; each change is an event."""

from __future__ import annotations

from service.domain.accounts import Principal
from service.domain.errors import InvalidPermission, InvalidRole
from service.domain.events import permission_event
from service.domain.permissions import (
    Permission,
    parse_permission_changes,
    parse_updated_since,
)
from service.domain.timestamps import utc_now
from service.persistence import accounts, outbox, permissions
from service.persistence.database import Database


async def list_all_permissions(db: Database, updated_since: str | None) -> list[Permission]:
    """Return every permission, or those changed after ``updatedSince``."""
    since = parse_updated_since(updated_since)
    async with db.sessions() as session:
        return await permissions.list_permissions(session, updated_since=since)


async def update_permissions(db: Database, principal: Principal, body: object) -> list[Permission]:
    """Set the roles of each listed permission, like Rocket.Chat's ``permissions.update``.

    Every principal cache forgets at commit (the ``auth_changed`` trigger), so the
    change takes effect on every instance at once; each permission changed is a
    ``permission.updated`` event in the same transaction.
    """
    changes = parse_permission_changes(body)
    wanted_roles = {role for change in changes for role in change.roles}
    now = utc_now()
    async with db.sessions.begin() as session:
        found = await permissions.lock_permissions(session, [change.id for change in changes])
        # Rocket.Chat compares counts, so a permission listed twice is invalid too.
        if len(found) != len(changes):
            raise InvalidPermission()
        if await accounts.existing_roles(session, tuple(wanted_roles)) != wanted_roles:
            raise InvalidRole()
        for change in changes:
            await permissions.set_roles(session, change.id, change.roles, now)
        changed = {change.id for change in changes}
        everything = await permissions.list_permissions(session)
        for permission in everything:
            if permission.id in changed:
                event = permission_event(permission.to_document(), actor=principal.actor, now=now)
                await outbox.add_event(session, event)
    return everything
