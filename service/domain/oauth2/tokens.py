"""Authorization codes and tokens: their kinds, lifetimes, and when one is usable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from service.domain.accounts import Principal
from service.domain.oauth2.grants import Grant
from service.domain.oauth2.scopes import format_scope

CODE_LIFETIME = timedelta(seconds=300)
ACCESS_TOKEN_LIFETIME = timedelta(seconds=3600)  # Rocket.Chat's values
REFRESH_TOKEN_LIFETIME = timedelta(days=14)


class TokenKind(StrEnum):
    """What a stored token is."""

    ACCESS = "access"
    REFRESH = "refresh"

    @property
    def type_hint(self) -> str:
        """Its ``token_type`` in an introspection answer (RFC 7662 section 2.2)."""
        return "Bearer" if self is TokenKind.ACCESS else "refresh_token"


@dataclass(frozen=True, slots=True)
class StoredCode:
    """An authorization code as stored, with its grant."""

    grant: Grant
    redirect_uri: str
    redirect_uri_sent: bool
    code_challenge: str | None
    expires_at: datetime
    used_at: datetime | None
    scope: frozenset[str] = field(default_factory=frozenset)
    nonce: str | None = None
    # When the user typed the password of the session the code came from.
    auth_time: datetime | None = None
    user: TokenUser | None = None
    resource: str | None = None  # RFC 8707: what its tokens are for


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token to store: its hash, never the token."""

    token_hash: str
    kind: TokenKind
    grant_id: str
    family: str
    code_hash: str | None
    created_at: datetime
    expires_at: datetime
    scope: frozenset[str] = field(default_factory=frozenset)
    auth_time: datetime | None = None
    resource: str | None = None


@dataclass(frozen=True, slots=True)
class TokenUser:
    """The user a token stands for, as ID tokens and userinfo describe them."""

    id: str
    username: str
    email: str | None = None
    email_verified: bool = False
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token as stored, with its grant, its app's and its user's state."""

    kind: TokenKind
    grant: Grant
    family: str
    app_active: bool
    user_active: bool
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None
    scope: frozenset[str] = field(default_factory=frozenset)
    auth_time: datetime | None = None
    user: TokenUser | None = None
    resource: str | None = None  # RFC 8707: introspection's ``aud``

    def usable(self, now: datetime) -> bool:
        """Live: not revoked or expired, and its app and user still active."""
        return (
            self.revoked_at is None
            and self.expires_at > now
            and self.app_active
            and self.user_active
        )

    def active(self, now: datetime) -> bool:
        """What introspection calls active: usable, and a refresh token not yet used."""
        return self.usable(now) and not (self.kind is TokenKind.REFRESH and self.used_at)

    def is_access_token(self, now: datetime) -> bool:
        """A usable access token (what a Bearer header must carry)."""
        return self.kind is TokenKind.ACCESS and self.usable(now)


@dataclass(frozen=True, slots=True)
class Rotation:
    """A refresh token exchanged for a new pair: the new tokens' hashes and expiries."""

    refresh_hash: str
    client_id: str
    access_hash: str
    access_expires_at: datetime
    new_refresh_hash: str
    refresh_expires_at: datetime
    now: datetime
    # A narrower scope for the new access token (RFC 6749 section 6); None keeps it.
    access_scope: str | None = None
    # The new pair's resource (RFC 8707); None keeps the used token's.
    resource: str | None = None


@dataclass(frozen=True, slots=True)
class BearerCaller:
    """Who an access token lets act on ``/api/v1``, and within which scope."""

    principal: Principal
    scope: frozenset[str]


@dataclass(frozen=True, slots=True)
class Rotated:
    """What a rotation tells of the refresh token it used: the new pair's scope and user."""

    scope: frozenset[str]
    user: TokenUser | None
    auth_time: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """A token response: the only place the tokens exist in plaintext."""

    access_token: str
    refresh_token: str | None  # None: a grant that issues none (client_credentials)
    expires_in: int
    scope: frozenset[str] = frozenset()
    id_token: str | None = None

    def to_document(self) -> dict[str, Any]:
        """RFC 6749 section 5.1, with OpenID Connect's ``id_token`` when one was issued."""
        document: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        if self.refresh_token is not None:
            document["refresh_token"] = self.refresh_token
        document["scope"] = format_scope(self.scope)
        if self.id_token is not None:
            document["id_token"] = self.id_token
        return document
