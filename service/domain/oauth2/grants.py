"""A grant: a user's standing consent to a client, which its codes and tokens descend from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.domain.timestamps import format_timestamp


@dataclass(frozen=True, slots=True)
class Grant:
    """A grant of an app by a user; a machine client's grant has no user."""

    id: str
    app_id: str
    client_id: str
    user_id: str | None
    created_at: datetime
    scope: frozenset[str] = field(default_factory=frozenset)

    def covers(self, scope: frozenset[str]) -> bool:
        """Whether the user already allowed every scope of ``scope`` (then no consent page)."""
        return scope <= self.scope

    def to_document(self) -> dict[str, Any]:
        """The grant as events cite it (never a token)."""
        return {
            "_id": self.id,
            "clientId": self.client_id,
            "userId": self.user_id,
            "createdAt": format_timestamp(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class ConnectedApp:
    """A user's live grant as the account page shows it: the app, and when it last got a token."""

    grant: Grant
    name: str
    logo_uri: str | None
    last_used: datetime | None
