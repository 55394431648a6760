"""Tables of the service; Alembic migrations own the schema, these mirror it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    """Declarative base with the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(Base):
    """A named set of permissions, like Rocket.Chat's roles."""

    __tablename__ = "roles"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)


class Permission(Base):
    """A permission, like Rocket.Chat's; which roles hold it is in ``role_permissions``."""

    __tablename__ = "permissions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class RolePermission(Base):
    """A permission granted to a role."""

    __tablename__ = "role_permissions"
    role: Mapped[str] = mapped_column(
        ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(
        ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True
    )


class User(Base):
    """A person or script that can log in."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(17), primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    email_verified: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=text("now()"))


class UserRole(Base):
    """A role held by a user."""

    __tablename__ = "user_roles"
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"), primary_key=True)


class LoginToken(Base):
    """A login or personal access token, stored only as base64(SHA-256(token))."""

    __tablename__ = "login_tokens"
    token_hash: Mapped[str] = mapped_column(String(44), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "login" or "personal"
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)


class OAuthAppRow(Base):
    """A registered OAuth app; the client secret only as base64(SHA-256(secret))."""

    __tablename__ = "oauth_apps"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(17), unique=True)
    client_secret_hash: Mapped[str] = mapped_column(String(44))
    name: Mapped[str] = mapped_column(Text)
    redirect_uri: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    # Snapshots of the actor, like Rocket.Chat's _createdBy: they outlive the user.
    created_by_id: Mapped[str | None] = mapped_column(String(17))  # None: open registration
    created_by_username: Mapped[str] = mapped_column(String(120))
    updated_by_id: Mapped[str | None] = mapped_column(String(17))
    updated_by_username: Mapped[str | None] = mapped_column(String(120))
    # RFC 7591 metadata beyond name and redirect URIs; an absent field has its default.
    client_metadata: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    # RFC 7592's registration access token of a dynamically registered client.
    registration_token_hash: Mapped[str | None] = mapped_column(String(44))
    # The secret before the last rotation, accepted until ``previous_secret_expires_at``.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(44))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        Index("ix_oauth_apps_created_at_id", created_at.desc(), id.desc()),
        Index(
            "ix_oauth_apps_previous_secret_expires_at",
            previous_secret_expires_at,
            postgresql_where=text("previous_secret_expires_at IS NOT NULL"),
        ),
    )


class OAuthAppCount(Base):
    """A share of the number of apps, kept by triggers on ``oauth_apps`` (migration 0008).

    The total is the sum over the slots: exact, and read without scanning the apps.
    """

    __tablename__ = "oauth_app_counts"
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    apps: Mapped[int] = mapped_column(BigInteger)


class OutboxEvent(Base):
    """An event written with the change it describes, waiting for the relay."""

    __tablename__ = "outbox"
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    published_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        Index("ix_outbox_unpublished", seq, postgresql_where=text("published_at IS NULL")),
    )


class AuditEntry(Base):
    """One event as the audit consumer recorded it; rows are never changed or deleted."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    app_id: Mapped[str] = mapped_column(String(64), index=True)  # the event's subject
    actor_id: Mapped[str | None] = mapped_column(String(17))  # None: no user acted
    actor_username: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime] = mapped_column(Timestamp)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(Timestamp, server_default=text("now()"))


class ProcessedEvent(Base):
    """An event a consumer has acted on, written in the same transaction as its effect."""

    __tablename__ = "processed_events"
    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(
        Timestamp, server_default=text("now()"), index=True
    )


class IdempotencyKey(Base):
    """A create request's ``Idempotency-Key``, per user, and the answer it got."""

    __tablename__ = "idempotency_keys"
    user_id: Mapped[str] = mapped_column(String(17), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # "in_flight" or "done"
    # The request that holds an in-flight reservation, and the advisory lock that its
    # process holds for as long as it lives (see persistence/idempotency.py).
    owner: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    owner_lock: Mapped[int | None] = mapped_column(Integer)
    app_id: Mapped[str | None] = mapped_column(String(24))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


class OAuthGrant(Base):
    """A user's consent to an app; its codes and tokens die with it."""

    __tablename__ = "oauth_grants"
    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"))
    # None for a machine client's grant (client_credentials).
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str | None] = mapped_column(Text)  # space-separated; None: not recorded
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)
    __table_args__ = (
        Index(
            "uq_oauth_grants_live",
            "app_id",
            "user_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )


class OAuthCode(Base):
    """An authorization code, stored only as its hash; single use, short-lived."""

    __tablename__ = "oauth_codes"
    code_hash: Mapped[str] = mapped_column(String(44), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("oauth_grants.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    redirect_uri_sent: Mapped[bool] = mapped_column(Boolean)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    scope: Mapped[str | None] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text)
    auth_time: Mapped[datetime | None] = mapped_column(Timestamp)
    resource: Mapped[str | None] = mapped_column(Text)  # RFC 8707
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp)


class OAuthToken(Base):
    """An access or refresh token, stored only as its hash."""

    __tablename__ = "oauth_tokens"
    token_hash: Mapped[str] = mapped_column(String(44), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "access" or "refresh"
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_grants.id", ondelete="CASCADE"), index=True
    )
    family: Mapped[str] = mapped_column(String(24))  # one code's descendants
    code_hash: Mapped[str | None] = mapped_column(String(44))
    scope: Mapped[str | None] = mapped_column(Text)
    auth_time: Mapped[datetime | None] = mapped_column(Timestamp)
    resource: Mapped[str | None] = mapped_column(Text)  # RFC 8707
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        Index("ix_oauth_tokens_live_family", family, postgresql_where=text("revoked_at IS NULL")),
    )


class RegistrationToken(Base):
    """An initial access token of RFC 7591, stored only as its hash."""

    __tablename__ = "registration_tokens"
    token_hash: Mapped[str] = mapped_column(String(44), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)
    uses_left: Mapped[int | None] = mapped_column(Integer)  # None: as often as it lives

    __table_args__ = (CheckConstraint("uses_left >= 0", name="uses_left"),)


class WebSession(Base):
    """A browser's login on the authorization pages, and its CSRF token."""

    __tablename__ = "web_sessions"
    session_hash: Mapped[str] = mapped_column(String(44), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(43))
    authenticated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


class SigningKeyRow(Base):
    """A key that signs ID tokens: the public JWK in the clear, the private key sealed.

    ``private_key`` is AES-256-GCM under a key derived from SECRET_KEY, so a dump of
    the database holds no usable private key (``usecases/oauth2/keys.py``).
    """

    __tablename__ = "signing_keys"
    kid: Mapped[str] = mapped_column(String(43), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    rotated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    retire_after: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        CheckConstraint(
            "(rotated_at IS NULL) = (retire_after IS NULL)", name="retires_once_rotated"
        ),
        Index(
            "uq_signing_keys_current",
            text("(true)"),
            unique=True,
            postgresql_where=text("rotated_at IS NULL"),
        ),
    )
