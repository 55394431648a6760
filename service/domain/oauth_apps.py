"""What an OAuth app is, and the business checks of Rocket.Chat's add/update methods."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from service.domain.accounts import Actor
from service.domain.errors import RuleViolation
from service.domain.jsvalues import js_trim
from service.domain.redirect_uris import RedirectUriPolicy, parse_uri_list, policy_problem
from service.domain.schema import ObjectSchema, OneOf, Value
from service.domain.text import text_problem
from service.domain.timestamps import format_timestamp

MAX_NAME_LENGTH = 200
MAX_REDIRECT_URIS = 10
MAX_REDIRECT_URI_LENGTH = 2000

CREATE_SCHEMA = ObjectSchema(
    properties=(("name", "string"), ("active", "boolean"), ("redirectUri", "string")),
    required=("name", "active", "redirectUri"),
)
UPDATE_SCHEMA = ObjectSchema(
    properties=(
        ("appId", "string"),
        ("name", "string"),
        ("active", "boolean"),
        ("redirectUri", "string"),
    ),
    required=("appId", "name", "active", "redirectUri"),
)
APP_ID_SCHEMA = ObjectSchema(properties=(("appId", "string"),), required=("appId",))
# How long a rotated secret may keep working: a week covers a weekly deploy.
MAX_SECRET_GRACE_SECONDS = 604_800
ROTATE_SCHEMA = ObjectSchema(
    properties=(("appId", "string"), ("graceSeconds", "integer")),
    required=("appId",),
    ranges=(("graceSeconds", 0, MAX_SECRET_GRACE_SECONDS),),
)
# oauth-apps.get's query: one of _id, clientId, or the deprecated appId (meaning _id).
GET_QUERY_SCHEMA = OneOf(
    (
        ObjectSchema(properties=(("_id", "string"),), required=("_id",)),
        ObjectSchema(properties=(("clientId", "string"),), required=("clientId",)),
        APP_ID_SCHEMA,
    )
)


@dataclass(frozen=True, slots=True)
class AppFields:
    """The caller-chosen fields of an app, after every check."""

    name: str
    redirect_uri: str
    active: bool


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """A registered OAuth client application (its secret is kept only as a hash)."""

    id: str
    name: str
    redirect_uri: str
    active: bool
    client_id: str
    created_at: datetime
    updated_at: datetime
    created_by: Actor
    updated_by: Actor | None = None

    def with_fields(self, fields: AppFields, actor: Actor, now: datetime) -> OAuthApp:
        """Return this app changed by an update."""
        return replace(
            self.touched(actor, now),
            name=fields.name,
            redirect_uri=fields.redirect_uri,
            active=fields.active,
        )

    def touched(self, actor: Actor, now: datetime) -> OAuthApp:
        """Return this app marked as changed by ``actor`` at ``now``."""
        return replace(self, updated_at=now, updated_by=actor)

    def to_document(self, client_secret: str | None = None) -> dict[str, Any]:
        """Return the app in Rocket.Chat's key order; the secret only when given."""
        document: dict[str, Any] = {
            "name": self.name,
            "redirectUri": self.redirect_uri,
            "active": self.active,
            "clientId": self.client_id,
        }
        if client_secret is not None:
            document["clientSecret"] = client_secret
        document["_createdAt"] = format_timestamp(self.created_at)
        document["_updatedAt"] = format_timestamp(self.updated_at)
        document["_createdBy"] = self.created_by.to_document()
        if self.updated_by is not None:
            document["_updatedBy"] = self.updated_by.to_document()
        document["_id"] = self.id
        return document


def app_not_found(method: str) -> RuleViolation:
    """Return Rocket.Chat's error for an unknown ``appId``."""
    return RuleViolation("error-application-not-found", "Application not found", method)


def check_app_fields(
    body: dict[str, Value], policy: RedirectUriPolicy, method: str, app_found: bool = True
) -> AppFields:
    """Apply the checks of Rocket.Chat's ``addOAuthApp``/``updateOAuthApp``, then ours.

    ``body`` is a schema-validated body, so the three fields have their types.
    ``app_found`` is for update, which looks the app up after the blank checks
    and before parsing the redirect list, as Rocket.Chat does.
    """
    name, redirect_uri, active = body["name"], body["redirectUri"], body["active"]
    assert isinstance(name, str) and isinstance(redirect_uri, str) and isinstance(active, bool)

    def invalid_name(reason: str = "") -> RuleViolation:
        return RuleViolation("error-invalid-name", f"Invalid name{reason}", method)

    def invalid_uri(reason: str = "") -> RuleViolation:
        return RuleViolation("error-invalid-redirectUri", f"Invalid redirectUri{reason}", method)

    if js_trim(name) == "":
        raise invalid_name()
    if js_trim(redirect_uri) == "":
        raise invalid_uri()
    if not app_found:
        raise app_not_found(method)
    redirect_uri = parse_uri_list(redirect_uri)
    if redirect_uri == "":
        raise invalid_uri()

    # Beyond Rocket.Chat: what PostgreSQL can store, sane bounds, then the policy.
    if problem := name_problem(name):
        raise invalid_name(f": {problem}")
    if problem := text_problem(redirect_uri):
        raise invalid_uri(f": {problem}")
    uris = redirect_uri.split(",") if "," in redirect_uri else [redirect_uri]
    if problem := uri_list_problem(uris, policy):
        raise invalid_uri(f": {problem}")
    return AppFields(name=name, redirect_uri=redirect_uri, active=active)


def name_problem(name: str) -> str | None:
    """Why a non-blank ``name`` cannot be an app's name, or None."""
    if problem := text_problem(name):
        return problem
    if len(name) > MAX_NAME_LENGTH:
        return f"longer than {MAX_NAME_LENGTH} characters"
    return None


def uri_list_problem(uris: Sequence[str], policy: RedirectUriPolicy) -> str | None:
    """Why a list of redirect URIs breaks the bounds or ``policy``, or None."""
    if len(uris) > MAX_REDIRECT_URIS:
        return f"more than {MAX_REDIRECT_URIS} URIs"
    for position, uri in enumerate(uris, start=1):
        if problem := text_problem(uri):
            return f"URI {position} {problem}"
        if len(uri) > MAX_REDIRECT_URI_LENGTH:
            return f"URI {position} is longer than {MAX_REDIRECT_URI_LENGTH} characters"
        if problem := policy_problem(uri, policy):
            return f"'{uri}' {problem}"
    return None
