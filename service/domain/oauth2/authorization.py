"""Checking an authorization request (RFC 6749 section 4.1.1, RFC 7636 section 4.3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.domain.oauth2.errors import AuthorizeError
from service.domain.oauth2.pkce import CHALLENGE

RESPONSE_TYPES_SUPPORTED = ("code",)
RESPONSE_MODES_SUPPORTED = ("query",)
PROMPT_VALUES_SUPPORTED = ("none", "login", "consent", "select_account")
MAX_NONCE_LENGTH = 512
# OpenID Connect Core 1.0 section 3.1.2.1: what asks for the password again.
_REAUTHENTICATE = frozenset({"login", "select_account"})


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A checked ``/oauth/authorize`` request."""

    client_id: str
    redirect_uri: str
    redirect_uri_sent: bool
    state: str | None
    code_challenge: str | None
    scope: frozenset[str] = frozenset()
    nonce: str | None = None
    prompt: frozenset[str] = frozenset()
    max_age: int | None = None
    login_hint: str | None = None
    resource: str | None = None  # RFC 8707

    def needs_password(self, authenticated_at: datetime | None, now: datetime) -> bool:
        """Whether a signed-in user must type the password again (``prompt``, ``max_age``)."""
        if self.prompt & _REAUTHENTICATE:
            return True
        if self.max_age is None:
            return False
        return authenticated_at is None or now - authenticated_at >= timedelta(seconds=self.max_age)


def openid_parameters(params: Mapping[str, str]) -> tuple[frozenset[str], int | None]:
    """``prompt`` and ``max_age`` of an authorization request, checked.

    ``request`` and ``request_uri`` (request objects) are refused as the server says
    in its metadata; unknown parameters are ignored (section 3.1.2.1).
    """
    if "request" in params:
        raise AuthorizeError("Request objects are not supported", "request_not_supported")
    if "request_uri" in params:
        raise AuthorizeError("request_uri is not supported", "request_uri_not_supported")
    nonce = params.get("nonce")
    # Stored with the code, then echoed in the ID token: text, and of a sane size.
    if nonce is not None and (not nonce.isprintable() or len(nonce) > MAX_NONCE_LENGTH):
        raise AuthorizeError(
            f"nonce must be printable text of at most {MAX_NONCE_LENGTH} characters"
        )
    prompt = frozenset(params.get("prompt", "").split())
    if unknown := sorted(prompt - set(PROMPT_VALUES_SUPPORTED)):
        raise AuthorizeError(f"Unknown prompt value: {' '.join(unknown)}")
    if "none" in prompt and len(prompt) > 1:
        raise AuthorizeError("prompt=none may not be combined with other values")
    max_age = params.get("max_age")
    if max_age is None:
        return prompt, None
    # Ten digits is over 300 years: more is no age a session has (and would overflow).
    if not max_age.isascii() or not max_age.isdigit() or len(max_age) > 10:
        raise AuthorizeError("max_age must be a number of seconds")
    return prompt, int(max_age)


def after_sign_in(params: Mapping[str, str]) -> dict[str, str]:
    """The request to continue with once the password was typed: asked, so not again."""
    continued = {name: value for name, value in params.items() if name != "max_age"}
    if "prompt" in params:
        prompt = [value for value in params["prompt"].split() if value not in _REAUTHENTICATE]
        continued["prompt"] = " ".join(prompt)
        if not prompt:
            del continued["prompt"]
    return continued


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
