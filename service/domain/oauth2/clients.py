"""A client of the authorization server: what it is and what it may do."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from service.domain.oauth2.errors import AuthorizeRefused
from service.domain.oauth2.pkce import PkceMode
from service.domain.oauth2.scopes import DEFAULT_APP_SCOPES
from service.domain.oauth2.tokens import ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME
from service.domain.redirect_uris import loopback_redirect_matches


class ClientAuthMethod(StrEnum):
    """How a client proves itself at the token endpoint (RFC 7591 section 2)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - a method's name
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105
    # A public client (RFC 6749 section 2.1): no secret, its client_id in the form alone.
    NONE = "none"


# Every app registered through ``oauth-apps.create`` is a confidential client; either
# secret method works for it, whichever its metadata names.
CONFIDENTIAL_AUTH_METHODS = frozenset(ClientAuthMethod) - {ClientAuthMethod.NONE}
PUBLIC_AUTH_METHODS = frozenset({ClientAuthMethod.NONE})
# A public client's stored secret hash: no secret's hash (44 characters) is empty.
NO_SECRET_HASH = ""


def auth_methods_for(method: ClientAuthMethod) -> frozenset[ClientAuthMethod]:
    """The methods a client whose metadata names ``method`` may authenticate with."""
    return PUBLIC_AUTH_METHODS if method is ClientAuthMethod.NONE else CONFIDENTIAL_AUTH_METHODS


@dataclass(frozen=True, slots=True)
class Client:
    """A registered app as a client; fields past ``secret_hash`` are its client metadata."""

    app_id: str
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    active: bool
    secret_hash: str
    grant_types: frozenset[str] = frozenset({"authorization_code", "refresh_token"})
    auth_methods: frozenset[ClientAuthMethod] = CONFIDENTIAL_AUTH_METHODS
    # The scopes it may be granted (its metadata's ``scope``).
    scopes: frozenset[str] = DEFAULT_APP_SCOPES
    # None: the server's ``OAUTH_PKCE`` decides.
    require_pkce: bool | None = None
    access_token_lifetime: timedelta = ACCESS_TOKEN_LIFETIME
    refresh_token_lifetime: timedelta = REFRESH_TOKEN_LIFETIME
    post_logout_redirect_uris: tuple[str, ...] = ()
    # Shown on the consent page.
    logo_uri: str | None = None
    client_uri: str | None = None
    policy_uri: str | None = None
    tos_uri: str | None = None
    # The secret before the last rotation, still accepted until then (``graceSeconds``).
    previous_secret_hash: str | None = None
    previous_secret_expires_at: datetime | None = None

    @property
    def is_public(self) -> bool:
        """Whether it is a public client: it has no secret (``none``)."""
        return ClientAuthMethod.NONE in self.auth_methods

    def redirect_uri_for(self, requested: str | None) -> str:
        """The redirect URI to answer on: exactly one of the registered ones (string equality).

        Without ``redirect_uri`` the app must have exactly one (RFC 6749 section 3.1.2.3).
        A public client's loopback IP redirect URIs match on any port (RFC 8252 section
        7.3): a native app listens on whichever port it was given.
        """
        if requested is None:
            if len(self.redirect_uris) == 1:
                return self.redirect_uris[0]
            raise AuthorizeRefused(
                "The application has several return addresses and did not say which to use."
            )
        if requested not in self.redirect_uris and not (
            self.is_public
            and any(loopback_redirect_matches(uri, requested) for uri in self.redirect_uris)
        ):
            raise AuthorizeRefused(
                "The return address the application asked for is not one it registered."
            )
        return requested

    def may_use(self, grant_type: str) -> bool:
        """Whether this client may use ``grant_type`` at the token endpoint."""
        return grant_type in self.grant_types

    def pkce_required(self, server_default: PkceMode) -> bool:
        """Whether this client's authorization requests must carry a PKCE challenge.

        Always for a public client: without a secret, PKCE is what binds the code to it.
        """
        if self.is_public:
            return True
        if self.require_pkce is not None:
            return self.require_pkce
        return server_default is PkceMode.REQUIRED

    def secret_matches(self, presented_hash: str, now: datetime) -> bool:
        """Whether a presented secret's hash is this client's, compared in constant time.

        The previous secret matches too until its overlap ends; both are compared, so
        the time taken does not tell which one was sent.
        """
        current = secrets_match(self.secret_hash, presented_hash)
        previous = secrets_match(self.previous_secret_hash or "", presented_hash)
        overlapping = self.previous_secret_expires_at is not None and (
            now < self.previous_secret_expires_at
        )
        return current or (previous and overlapping)


def registered_uris(redirect_uri_field: str) -> tuple[str, ...]:
    """An app's redirect URIs, as stored (one, or several joined with ',')."""
    return tuple(redirect_uri_field.split(","))


def secrets_match(stored_hash: str, presented_hash: str) -> bool:
    """Compare two secret hashes in constant time."""
    return hmac.compare_digest(stored_hash.encode(), presented_hash.encode())
