"""Columns read by name into the domain's objects: a new column is a new name, not a shift."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Row

from service.domain.oauth2.client_metadata import ClientMetadata
from service.domain.oauth2.clients import Client, auth_methods_for, registered_uris
from service.domain.oauth2.grants import Grant
from service.domain.oauth2.scopes import format_scope, parse_scope
from service.domain.oauth2.tokens import ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME, TokenUser
from service.persistence.models import OAuthAppRow, OAuthGrant, User

CLIENT_COLUMNS = (
    OAuthAppRow.id.label("app_id"),
    OAuthAppRow.client_id.label("client_id"),
    OAuthAppRow.name.label("name"),
    OAuthAppRow.redirect_uri.label("redirect_uri"),
    OAuthAppRow.active.label("active"),
    OAuthAppRow.client_secret_hash.label("secret_hash"),
    OAuthAppRow.client_metadata.label("client_metadata"),
    OAuthAppRow.previous_secret_hash.label("previous_secret_hash"),
    OAuthAppRow.previous_secret_expires_at.label("previous_secret_expires_at"),
)
GRANT_COLUMNS = (
    OAuthGrant.id.label("grant_id"),
    OAuthGrant.app_id.label("grant_app_id"),
    OAuthAppRow.client_id.label("grant_client_id"),
    OAuthGrant.user_id.label("grant_user_id"),
    OAuthGrant.created_at.label("grant_created_at"),
    OAuthGrant.scope.label("grant_scope"),
)


def client_from(row: Row[*tuple[Any, ...]]) -> Client:
    """A client from the labels of ``CLIENT_COLUMNS``."""
    metadata = ClientMetadata.from_document(row.client_metadata)
    return Client(
        app_id=row.app_id,
        client_id=row.client_id,
        name=row.name,
        redirect_uris=registered_uris(row.redirect_uri),
        active=row.active,
        secret_hash=row.secret_hash,
        grant_types=frozenset(metadata.grant_types),
        auth_methods=auth_methods_for(metadata.token_endpoint_auth_method),
        scopes=metadata.scope,
        require_pkce=metadata.require_pkce,
        access_token_lifetime=_lifetime(metadata.access_token_lifetime, ACCESS_TOKEN_LIFETIME),
        refresh_token_lifetime=_lifetime(metadata.refresh_token_lifetime, REFRESH_TOKEN_LIFETIME),
        post_logout_redirect_uris=metadata.post_logout_redirect_uris,
        logo_uri=metadata.logo_uri,
        client_uri=metadata.client_uri,
        policy_uri=metadata.policy_uri,
        tos_uri=metadata.tos_uri,
        previous_secret_hash=row.previous_secret_hash,
        previous_secret_expires_at=row.previous_secret_expires_at,
    )


def _lifetime(seconds: int | None, server_default: timedelta) -> timedelta:
    return server_default if seconds is None else timedelta(seconds=seconds)


def grant_from(row: Row[*tuple[Any, ...]]) -> Grant:
    """A grant from the labels of ``GRANT_COLUMNS``."""
    return Grant(
        id=row.grant_id,
        app_id=row.grant_app_id,
        client_id=row.grant_client_id,
        user_id=row.grant_user_id,
        created_at=row.grant_created_at,
        scope=parse_scope(row.grant_scope),
    )


# A token's or code's user, joined (outer: a machine client's grant has none).
USER_COLUMNS = (
    User.username,
    User.email,
    User.email_verified,
    User.updated_at.label("user_updated_at"),
)


def user_from(row: Row[*tuple[Any, ...]], user_id: str | None) -> TokenUser | None:
    """The user of ``USER_COLUMNS`` (named so in a statement of text too), if any."""
    if user_id is None:
        return None
    return TokenUser(user_id, row.username, row.email, row.email_verified, row.user_updated_at)


def scope_column(scope: frozenset[str]) -> str | None:
    """How a scope is stored: space-separated, None when there is none to record."""
    return format_scope(scope) or None
