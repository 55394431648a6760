"""Permissions and the roles that hold them: Rocket.Chat's ``permissions.*`` rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.domain.errors import InvalidBodyParams, InvalidUpdatedSince
from service.domain.schema import NOT_COERCIBLE, coerce_to_string
from service.domain.timestamps import format_timestamp


@dataclass(frozen=True, slots=True)
class Permission:
    """A permission and the roles that hold it."""

    id: str
    roles: tuple[str, ...]
    updated_at: datetime

    def to_document(self) -> dict[str, Any]:
        """Rocket.Chat's shape: ``{_id, roles, _updatedAt}``."""
        return {
            "_id": self.id,
            "roles": list(self.roles),
            "_updatedAt": format_timestamp(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class PermissionChange:
    """The roles one permission should be held by from now on."""

    id: str
    roles: tuple[str, ...]


def _string(value: object) -> str:
    coerced = coerce_to_string(value)
    if coerced is NOT_COERCIBLE:
        raise InvalidBodyParams()
    assert isinstance(coerced, str)
    return coerced


def parse_permission_changes(body: object) -> list[PermissionChange]:
    """Check ``permissions.update``'s body: ``{permissions: [{_id, roles: [unique]}]}``."""
    if not isinstance(body, Mapping) or set(body) != {"permissions"}:
        raise InvalidBodyParams()
    items = body["permissions"]
    if not isinstance(items, list):
        raise InvalidBodyParams()
    changes = []
    for item in items:
        if not isinstance(item, Mapping) or set(item) != {"_id", "roles"}:
            raise InvalidBodyParams()
        roles = item["roles"]
        if not isinstance(roles, list):
            raise InvalidBodyParams()
        names = tuple(_string(role) for role in roles)
        if len(set(names)) != len(names):
            raise InvalidBodyParams()
        changes.append(PermissionChange(_string(item["_id"]), names))
    return changes


def parse_updated_since(raw: str | None) -> datetime | None:
    """Read ``updatedSince`` as an ISO 8601 date (what ``Date.parse`` reads for clients)."""
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidUpdatedSince() from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
