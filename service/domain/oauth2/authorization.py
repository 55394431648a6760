"""Checking an authorization request (RFC 6749 section 4.1.1, RFC 7636 section 4.3)."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.oauth2.errors import AuthorizeError
from service.domain.oauth2.pkce import CHALLENGE

RESPONSE_TYPES_SUPPORTED = ("code",)
RESPONSE_MODES_SUPPORTED = ("query",)


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
    pkce_required: bool,
) -> None:
    """The checks after client and redirect URI, whose failures go back to the client."""
    if response_type not in RESPONSE_TYPES_SUPPORTED:
        raise AuthorizeError("Only response_type=code is supported", "unsupported_response_type")
    if code_challenge is None:
        if code_challenge_method is not None:
            raise AuthorizeError("code_challenge_method without code_challenge")
        if pkce_required:
            raise AuthorizeError("PKCE is required: send code_challenge (S256)")
        return
    if code_challenge_method != "S256":
        raise AuthorizeError("code_challenge_method must be S256 (plain is not accepted)")
    if not CHALLENGE.fullmatch(code_challenge):
        raise AuthorizeError("code_challenge is not a S256 challenge")
