"""The OAuth 2 authorization server's rules: RFC 6749, 7636 (PKCE), 7009, 7662, RFC 9700."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from service.domain.errors import DomainError

CODE_LIFETIME = timedelta(seconds=300)
ACCESS_TOKEN_LIFETIME = timedelta(seconds=3600)  # Rocket.Chat's values
REFRESH_TOKEN_LIFETIME = timedelta(days=14)
SESSION_LIFETIME = timedelta(hours=8)
# RFC 7636 section 4.1: 43 to 128 characters of this alphabet.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


class PkceMode(StrEnum):
    """``OAUTH_PKCE``: whether a client may omit PKCE."""

    REQUIRED = "required"
    OPTIONAL = "optional"  # confidential Rocket.Chat-era clients may omit it


class OAuthError(DomainError):
    """An RFC 6749 error: its code, a description, and the status of the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.status = status


class InvalidClient(OAuthError):
    """Unknown client, wrong secret, or an inactive app (RFC 6749 section 5.2)."""

    def __init__(self, description: str = "Client authentication failed") -> None:
        super().__init__("invalid_client", description, 401)


class AuthorizeRefused(DomainError):
    """A client_id or redirect_uri that cannot be trusted: an error page, never a redirect."""


class AuthorizeError(OAuthError):
    """An authorization request error that goes back to the client's redirect URI."""


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))`` without padding (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_pkce(challenge: str | None, verifier: str | None) -> bool:
    """Whether ``verifier`` answers ``challenge``; without a challenge, no verifier may come."""
    if challenge is None:
        return verifier is None
    if verifier is None or not _VERIFIER.fullmatch(verifier):
        return False
    return hmac.compare_digest(s256_challenge(verifier), challenge)


def secrets_match(stored_hash: str, presented_hash: str) -> bool:
    """Compare two secret hashes in constant time."""
    return hmac.compare_digest(stored_hash.encode(), presented_hash.encode())


def registered_uris(redirect_uri_field: str) -> list[str]:
    """An app's redirect URIs, as stored (one, or several joined with ',')."""
    return redirect_uri_field.split(",")


def choose_redirect_uri(registered: list[str], requested: str | None) -> str:
    """The redirect URI to use: exactly one of the registered ones (string equality).

    Without ``redirect_uri`` the app must have exactly one (RFC 6749 section 3.1.2.3).
    """
    if requested is None:
        if len(registered) == 1:
            return registered[0]
        raise AuthorizeRefused("redirect_uri is required: the app has several")
    if requested not in registered:
        raise AuthorizeRefused("redirect_uri is not one of the app's registered URIs")
    return requested


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A checked ``/oauth/authorize`` request."""

    client_id: str
    redirect_uri: str
    redirect_uri_sent: bool
    state: str | None
    code_challenge: str | None


def check_authorization_request(
    *,
    response_type: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
    pkce: PkceMode,
) -> None:
    """The checks after client and redirect URI, whose failures go back to the client."""
    if response_type != "code":
        raise AuthorizeError("unsupported_response_type", "Only response_type=code is supported")
    if code_challenge is None:
        if code_challenge_method is not None:
            raise AuthorizeError("invalid_request", "code_challenge_method without code_challenge")
        if pkce is PkceMode.REQUIRED:
            raise AuthorizeError("invalid_request", "PKCE is required: send code_challenge (S256)")
        return
    if code_challenge_method != "S256":
        raise AuthorizeError(
            "invalid_request", "code_challenge_method must be S256 (plain is not accepted)"
        )
    if not re.fullmatch(r"[A-Za-z0-9\-_]{43}", code_challenge):
        raise AuthorizeError("invalid_request", "code_challenge is not a S256 challenge")
