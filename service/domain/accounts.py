"""Users as the service sees them: identity, roles and the permissions they grant."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service.domain.timestamps import format_timestamp

MANAGE_OAUTH_APPS = "manage-oauth-apps"
BYPASS_RATE_LIMIT = "api-bypass-rate-limit"
ACCESS_PERMISSIONS = "access-permissions"
LOGIN_TOKEN_LIFETIME = timedelta(days=90)  # Rocket.Chat's Accounts_LoginExpiration default
# A login token comes from a password (and expires), a personal one from an operator.
TOKEN_KINDS = ("login", "personal")


@dataclass(frozen=True, slots=True)
class Actor:
    """A user as apps and events cite them: ``{_id, username}``."""

    id: str | None  # None: no user, e.g. a client that registered itself
    username: str

    def to_document(self) -> dict[str, str | None]:
        """Return the Rocket.Chat shape."""
        return {"_id": self.id, "username": self.username}


# Who open registration, or an initial access token, or a client's own registration
# access token acts as: no user (RFC 7591 leaves the registrant anonymous).
DYNAMIC_REGISTRATION = Actor(None, "dynamic-registration")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    id: str
    username: str
    permissions: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> Actor:
        """Return the caller as apps and events cite it."""
        return Actor(self.id, self.username)

    def can(self, permission: str) -> bool:
        """Tell whether one of the caller's roles grants ``permission``."""
        return permission in self.permissions


@dataclass(frozen=True, slots=True)
class UserProfile:
    """A user as ``/me`` and the login response show it."""

    id: str
    username: str
    email: str | None
    roles: tuple[str, ...]
    active: bool

    def to_document(self) -> dict[str, object]:
        """Return Rocket.Chat's shape of a user."""
        emails = [{"address": self.email, "verified": False}] if self.email else []
        return {
            "_id": self.id,
            "username": self.username,
            "emails": emails,
            "roles": list(self.roles),
            "active": self.active,
        }


@dataclass(frozen=True, slots=True)
class UserListing:
    """A user as ``oauth-apps users list`` prints it."""

    profile: UserProfile
    created_at: datetime

    def to_listing(self) -> dict[str, object]:
        """Return one line of the listing."""
        return {
            "_id": self.profile.id,
            "username": self.profile.username,
            "email": self.profile.email,
            "roles": list(self.profile.roles),
            "active": self.profile.active,
            "created": format_timestamp(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class TokenListing:
    """A live token as ``oauth-apps tokens list`` shows it: never the token or its hash.

    ``id`` is derived from the stored hash by another hash, so it names the token for
    ``tokens revoke`` and says nothing that would help to forge or look it up.
    """

    id: str
    kind: str
    created_at: datetime
    expires_at: datetime | None

    def to_listing(self) -> dict[str, str | None]:
        """Return one line of the listing."""
        return {
            "id": self.id,
            "kind": self.kind,
            "created": format_timestamp(self.created_at),
            "expires": None if self.expires_at is None else format_timestamp(self.expires_at),
        }
