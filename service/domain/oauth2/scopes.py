"""The scopes the server knows, each with the words the consent page shows for it."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.oauth2.errors import InvalidScope


@dataclass(frozen=True, slots=True)
class Scope:
    """A scope: its name on the wire, what it lets the app do in plain words, its claims."""

    name: str
    description: str
    claims: tuple[str, ...] = ()


# The one list: discovery's ``scopes_supported`` and ``claims_supported``, the consent
# page and the claims of ID tokens and userinfo read it.
SCOPES: tuple[Scope, ...] = (
    Scope("openid", "Know who you are (your user id)", ("sub",)),
    Scope(
        "profile",
        "See your user name",
        # preffered_username: Rocket.Chat's misspelling, which its integrations read.
        ("name", "preferred_username", "preffered_username", "updated_at"),
    ),
    Scope("email", "See your email address", ("email", "email_verified")),
    Scope("offline_access", "Stay connected when you are not using it"),
    Scope("api", "Use the chat API as you: create, change and delete what you can"),
)
# The claims of an ID token that no scope names.
ID_TOKEN_CLAIMS = ("iss", "aud", "azp", "iat", "exp", "auth_time", "nonce", "at_hash")
CLAIMS_SUPPORTED = (*(claim for scope in SCOPES for claim in scope.claims), *ID_TOKEN_CLAIMS)
SCOPES_BY_NAME = {scope.name: scope for scope in SCOPES}
# What an app made by ``oauth-apps.create`` may ask for: what a Rocket.Chat-era
# integration could do with its token.
DEFAULT_APP_SCOPES = frozenset({"openid", "profile", "email", "api"})


def requested_scope(value: str | None, allowed: frozenset[str]) -> frozenset[str]:
    """The scope an authorization asks for: ``value``, or all that is allowed without one.

    A scope the server does not know, or this client may not ask for, is
    ``invalid_scope`` (RFC 6749 section 3.3).
    """
    if value is None:
        return allowed
    scope = parse_scope(value)
    if unknown := sorted(scope - SCOPES_BY_NAME.keys()):
        raise InvalidScope(f"Unknown scope: {' '.join(unknown)}")
    if refused := sorted(scope - allowed):
        raise InvalidScope(f"This application may not ask for: {' '.join(refused)}")
    return scope


def narrowed_scope(value: str | None, granted: frozenset[str]) -> frozenset[str]:
    """The scope of a refresh: fewer scopes than granted may be asked for, never more."""
    if value is None:
        return granted
    scope = parse_scope(value)
    if beyond := sorted(scope - granted):
        raise InvalidScope(f"A refresh may not add scopes: {' '.join(beyond)}")
    return scope


def parse_scope(value: str | None) -> frozenset[str]:
    """The scope names of a space-separated ``scope`` value (RFC 6749 section 3.3)."""
    return frozenset(value.split()) if value else frozenset()


def format_scope(scopes: frozenset[str]) -> str:
    """A ``scope`` value: the names in the registry's order, unknown ones last, sorted."""
    known = [scope.name for scope in SCOPES if scope.name in scopes]
    return " ".join(known + sorted(scopes - SCOPES_BY_NAME.keys()))
