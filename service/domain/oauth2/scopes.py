"""The scopes the server knows, each with the words the consent page shows for it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    """A scope: its name on the wire and what granting it lets the app do, in plain words."""

    name: str
    description: str


# The one list: discovery's ``scopes_supported`` and the consent page read it.
SCOPES: tuple[Scope, ...] = (
    Scope("openid", "Know who you are (your user id)"),
    Scope("profile", "See your user name"),
    Scope("email", "See your email address"),
    Scope("offline_access", "Stay connected when you are not using it"),
    Scope("api", "Use the chat API as you: create, change and delete what you can"),
)
SCOPES_BY_NAME = {scope.name: scope for scope in SCOPES}
# What an app made by ``oauth-apps.create`` may ask for: what a Rocket.Chat-era
# integration could do with its token.
DEFAULT_APP_SCOPES = frozenset({"openid", "profile", "email", "api"})


def parse_scope(value: str | None) -> frozenset[str]:
    """The scope names of a space-separated ``scope`` value (RFC 6749 section 3.3)."""
    return frozenset(value.split()) if value else frozenset()


def format_scope(scopes: frozenset[str]) -> str:
    """A ``scope`` value: the names in the registry's order, unknown ones last, sorted."""
    known = [scope.name for scope in SCOPES if scope.name in scopes]
    return " ".join(known + sorted(scopes - SCOPES_BY_NAME.keys()))
