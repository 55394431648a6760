"""RFC 6749's errors as domain failures; which status each gets is ``api/errors.py``'s table."""

from __future__ import annotations

from service.domain.errors import DomainError


class OAuthError(DomainError):
    """An RFC 6749 error: its code (``error``) and a description for the client."""

    error = "invalid_request"

    def __init__(self, description: str, error: str | None = None) -> None:
        super().__init__(description)
        if error is not None:
            self.error = error


class InvalidRequest(OAuthError):
    """A parameter is missing, repeated or malformed (RFC 6749 section 5.2)."""

    error = "invalid_request"


class InvalidClient(OAuthError):
    """Unknown client, wrong secret, or an inactive app (RFC 6749 section 5.2)."""

    error = "invalid_client"

    def __init__(self, description: str = "Client authentication failed") -> None:
        super().__init__(description)


class InvalidGrant(OAuthError):
    """A code or refresh token that is not valid for this client (RFC 6749 section 5.2)."""

    error = "invalid_grant"


class UnsupportedGrantType(OAuthError):
    """A ``grant_type`` the server does not support (RFC 6749 section 5.2)."""

    error = "unsupported_grant_type"


class UnauthorizedClient(OAuthError):
    """A grant type this client may not use (RFC 6749 section 5.2)."""

    error = "unauthorized_client"


class InvalidScope(OAuthError):
    """A scope the server does not know or the client may not ask for (RFC 6749 section 5.2)."""

    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """A ``resource`` that is not one of the server's (RFC 8707 section 2)."""

    error = "invalid_target"


class InvalidToken(OAuthError):
    """A Bearer token that is missing, expired or revoked (RFC 6750 section 3.1)."""

    error = "invalid_token"


class InsufficientScope(OAuthError):
    """Credentials that are valid but may not do this (RFC 6750 section 3.1)."""

    error = "insufficient_scope"

    def __init__(self, description: str, needed: str | None = None) -> None:
        super().__init__(description)
        # The scope that would do (the challenge names it), when a scope is what lacks.
        self.needed = needed

    @classmethod
    def lacking(cls, scope: str) -> InsufficientScope:
        """A token without ``scope``."""
        return cls(f"The access token does not have the {scope!r} scope", scope)


class InvalidClientMetadata(OAuthError):
    """A known client metadata field with a value the server does not support (RFC 7591 3.2.2)."""

    error = "invalid_client_metadata"


class InvalidRedirectUri(OAuthError):
    """A ``redirect_uris`` value that the redirect URI policy refuses (RFC 7591 3.2.2)."""

    error = "invalid_redirect_uri"


class AuthorizeError(OAuthError):
    """An authorization request error that goes back to the client's redirect URI."""


class AuthorizeRefused(DomainError):
    """A client_id or redirect_uri that cannot be trusted: an error page, never a redirect."""


class FormRefused(DomainError):
    """A page's form without the CSRF token of the session it claims (a forged request)."""
