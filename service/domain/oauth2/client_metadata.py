"""RFC 7591 client metadata: the fields the server knows, their defaults and their checks."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from service.domain.jsvalues import js_trim
from service.domain.oauth2.clients import ClientAuthMethod, registered_uris
from service.domain.oauth2.errors import InvalidClientMetadata, InvalidRedirectUri, OAuthError
from service.domain.oauth2.scopes import (
    DEFAULT_APP_SCOPES,
    SCOPES_BY_NAME,
    format_scope,
    parse_scope,
)
from service.domain.oauth_apps import (
    MAX_REDIRECT_URI_LENGTH,
    OAuthApp,
    name_problem,
    uri_list_problem,
)
from service.domain.redirect_uris import (
    RedirectUriPolicy,
    redirect_target_problem,
    web_url_problem,
)
from service.domain.text import text_problem

DEFAULT_GRANT_TYPES = ("authorization_code", "refresh_token")
CLIENT_CREDENTIALS = "client_credentials"
RESPONSE_TYPES = ("code",)
# Sane bounds: a token that outlives a day is a password; a refresh token a year.
ACCESS_TOKEN_LIFETIMES = range(60, 86_400 + 1)
REFRESH_TOKEN_LIFETIMES = range(60, 365 * 86_400 + 1)
MAX_CONTACTS = 10
MAX_CONTACT_LENGTH = 254  # an email address's limit (RFC 5321)


@dataclass(frozen=True, slots=True)
class ClientMetadata:
    """An app's metadata beyond its name and redirect URIs, which stay the app's own fields."""

    grant_types: tuple[str, ...] = DEFAULT_GRANT_TYPES
    response_types: tuple[str, ...] = RESPONSE_TYPES
    token_endpoint_auth_method: ClientAuthMethod = ClientAuthMethod.CLIENT_SECRET_BASIC
    scope: frozenset[str] = DEFAULT_APP_SCOPES
    # None only for an app from before metadata: it follows OAUTH_PKCE.
    require_pkce: bool | None = None
    access_token_lifetime: int | None = None  # seconds; None: the server's
    refresh_token_lifetime: int | None = None
    post_logout_redirect_uris: tuple[str, ...] = ()
    logo_uri: str | None = None
    client_uri: str | None = None
    policy_uri: str | None = None
    tos_uri: str | None = None
    contacts: tuple[str, ...] = ()

    def to_document(self) -> dict[str, Any]:
        """The fields under their RFC 7591 names: how they are stored and shown."""
        return {
            "grant_types": list(self.grant_types),
            "response_types": list(self.response_types),
            "token_endpoint_auth_method": self.token_endpoint_auth_method.value,
            "scope": format_scope(self.scope),
            "require_pkce": self.require_pkce,
            "access_token_lifetime": self.access_token_lifetime,
            "refresh_token_lifetime": self.refresh_token_lifetime,
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "logo_uri": self.logo_uri,
            "client_uri": self.client_uri,
            "policy_uri": self.policy_uri,
            "tos_uri": self.tos_uri,
            "contacts": list(self.contacts),
        }

    @classmethod
    def from_document(cls, stored: Mapping[str, Any]) -> ClientMetadata:
        """Metadata as stored (checked when written); an absent field has its default."""
        default = cls()
        return cls(
            grant_types=tuple(stored.get("grant_types", default.grant_types)),
            response_types=tuple(stored.get("response_types", default.response_types)),
            token_endpoint_auth_method=ClientAuthMethod(
                stored.get("token_endpoint_auth_method", default.token_endpoint_auth_method)
            ),
            scope=parse_scope(stored["scope"]) if "scope" in stored else default.scope,
            require_pkce=stored.get("require_pkce"),
            access_token_lifetime=stored.get("access_token_lifetime"),
            refresh_token_lifetime=stored.get("refresh_token_lifetime"),
            post_logout_redirect_uris=tuple(stored.get("post_logout_redirect_uris", ())),
            logo_uri=stored.get("logo_uri"),
            client_uri=stored.get("client_uri"),
            policy_uri=stored.get("policy_uri"),
            tos_uri=stored.get("tos_uri"),
            contacts=tuple(stored.get("contacts", ())),
        )


def registration_document(
    app: OAuthApp,
    metadata: ClientMetadata,
    *,
    pkce_by_default: bool,
    registration_client_uri: str,
) -> dict[str, Any]:
    """RFC 7592's client information response: the metadata as stored, never a secret.

    An app from before metadata shows the ``require_pkce`` in force: ``OAUTH_PKCE``'s.
    """
    document: dict[str, Any] = {
        "client_id": app.client_id,
        "client_id_issued_at": int(app.created_at.timestamp()),
        "client_name": app.name,
        "redirect_uris": list(registered_uris(app.redirect_uri)),
    }
    document |= metadata.to_document()
    if metadata.require_pkce is None:
        document["require_pkce"] = pkce_by_default
    document["registration_client_uri"] = registration_client_uri
    return document


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    """A checked RFC 7591 document: the app's name and redirect URIs, and its metadata."""

    client_name: str
    redirect_uri: str  # the app's ``redirectUri``: the URIs joined with ","
    metadata: ClientMetadata
    client_id: str | None
    client_secret: str | None


def check_registration(
    body: object,
    *,
    policy: RedirectUriPolicy,
    grant_types: Collection[str],
    pkce_by_default: bool,
    default_scope: frozenset[str] = DEFAULT_APP_SCOPES,
) -> RegistrationRequest:
    """Check a client's RFC 7591 metadata; omitted or null fields take their defaults.

    ``grant_types`` are the ones the caller may choose from; ``pkce_by_default`` is
    ``require_pkce`` when it is omitted (``OAUTH_PKCE``, as for a new app), and
    ``default_scope`` the ``scope``. Fields the server does not know are ignored
    (RFC 7591 section 2).
    """
    if not isinstance(body, dict):
        raise InvalidClientMetadata("The client metadata must be a JSON object")
    fields = {name: value for name, value in body.items() if value is not None}
    # The app's own fields first, in oauth-apps.create's order.
    client_name = _client_name(fields)
    redirect_uri = ",".join(_redirect_uris(fields, policy))
    chosen_grants = _grant_types(fields, grant_types)
    require_pkce = fields.get("require_pkce", pkce_by_default)
    if not isinstance(require_pkce, bool):
        raise InvalidClientMetadata("require_pkce must be true or false")
    auth_method = _auth_method(fields)
    if auth_method is ClientAuthMethod.NONE and CLIENT_CREDENTIALS in chosen_grants:
        # RFC 6749 section 4.4: a client that cannot keep a secret cannot be trusted alone.
        raise InvalidClientMetadata(
            "grant_type 'client_credentials' needs a confidential client, not 'none'"
        )
    metadata = ClientMetadata(
        grant_types=chosen_grants,
        response_types=_response_types(fields, chosen_grants),
        token_endpoint_auth_method=auth_method,
        scope=_scope(fields, default_scope),
        require_pkce=require_pkce,
        access_token_lifetime=_lifetime(fields, "access_token_lifetime", ACCESS_TOKEN_LIFETIMES),
        refresh_token_lifetime=_lifetime(fields, "refresh_token_lifetime", REFRESH_TOKEN_LIFETIMES),
        post_logout_redirect_uris=_post_logout_uris(fields, policy),
        logo_uri=_web_page(fields, "logo_uri"),
        client_uri=_web_page(fields, "client_uri"),
        policy_uri=_web_page(fields, "policy_uri"),
        tos_uri=_web_page(fields, "tos_uri"),
        contacts=_contacts(fields),
    )
    return RegistrationRequest(
        client_name=client_name,
        redirect_uri=redirect_uri,
        metadata=metadata,
        client_id=_optional_string(fields, "client_id"),
        client_secret=_optional_string(fields, "client_secret"),
    )


def _strings(
    fields: dict[str, Any], name: str, error: type[OAuthError] = InvalidClientMetadata
) -> list[str] | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise error(f"{name} must be an array of strings")
    return value


def _optional_string(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidClientMetadata(f"{name} must be a string")
    return value


def _client_name(fields: dict[str, Any]) -> str:
    name = _optional_string(fields, "client_name")
    if name is None or js_trim(name) == "":
        # The app's name, which Rocket.Chat requires; a PUT that omits it would erase it.
        raise InvalidClientMetadata("client_name is required")
    if problem := name_problem(name):
        raise InvalidClientMetadata(f"client_name is {problem}")
    return name


def _redirect_uris(fields: dict[str, Any], policy: RedirectUriPolicy) -> list[str]:
    uris = _strings(fields, "redirect_uris", InvalidRedirectUri)
    if not uris:
        raise InvalidRedirectUri("redirect_uris must name at least one URI")
    for uri in uris:
        if js_trim(uri) == "":
            raise InvalidRedirectUri("redirect_uris must not contain an empty URI")
        if "," in uri or "\n" in uri:
            # The app stores its list joined with "," (Rocket.Chat's redirectUri).
            raise InvalidRedirectUri(f"redirect_uris: {uri!r} must not contain a comma")
    if problem := uri_list_problem(uris, policy):
        raise InvalidRedirectUri(f"redirect_uris: {problem}")
    return uris


def _post_logout_uris(fields: dict[str, Any], policy: RedirectUriPolicy) -> tuple[str, ...]:
    uris = _strings(fields, "post_logout_redirect_uris") or []
    # The logout page redirects to these unchecked, whatever the policy: never a
    # dangerous scheme or a URI that does not parse.
    problem = uri_list_problem(uris, policy) or next(
        (f"'{uri}' {found}" for uri in uris if (found := redirect_target_problem(uri))), None
    )
    if problem:
        raise InvalidClientMetadata(f"post_logout_redirect_uris: {problem}")
    return tuple(uris)


def _grant_types(fields: dict[str, Any], supported: Collection[str]) -> tuple[str, ...]:
    chosen = _strings(fields, "grant_types")
    if chosen is None:
        return DEFAULT_GRANT_TYPES
    if not chosen:
        raise InvalidClientMetadata("grant_types must name at least one grant type")
    for grant_type in chosen:
        if grant_type not in supported:
            raise InvalidClientMetadata(f"grant_type {grant_type!r} is not supported")
    return tuple(dict.fromkeys(chosen))


def _response_types(fields: dict[str, Any], grant_types: tuple[str, ...]) -> tuple[str, ...]:
    chosen = _strings(fields, "response_types")
    if chosen is None:
        return RESPONSE_TYPES if "authorization_code" in grant_types else ()
    for response_type in chosen:
        if response_type not in RESPONSE_TYPES:
            raise InvalidClientMetadata(f"response_type {response_type!r} is not supported")
    # RFC 7591 section 2.1: the code response type and the code grant go together.
    if ("code" in chosen) != ("authorization_code" in grant_types):
        raise InvalidClientMetadata(
            "response_types must contain 'code' exactly when grant_types has authorization_code"
        )
    return tuple(dict.fromkeys(chosen))


def _auth_method(fields: dict[str, Any]) -> ClientAuthMethod:
    method = _optional_string(fields, "token_endpoint_auth_method")
    if method is None:
        return ClientAuthMethod.CLIENT_SECRET_BASIC
    if method not in ClientAuthMethod.__members__.values():
        raise InvalidClientMetadata(f"token_endpoint_auth_method {method!r} is not supported")
    return ClientAuthMethod(method)


def _scope(fields: dict[str, Any], default: frozenset[str]) -> frozenset[str]:
    value = _optional_string(fields, "scope")
    if value is None:
        return default
    scopes = parse_scope(value)
    if not scopes:
        raise InvalidClientMetadata("scope must name at least one scope")
    if unknown := scopes - SCOPES_BY_NAME.keys():
        raise InvalidClientMetadata(f"scope {format_scope(unknown)!r} is not known")
    return scopes


def _lifetime(fields: dict[str, Any], name: str, allowed: range) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    # JSON numbers arrive as floats (JSON.parse's semantics); a bool is not a number.
    whole = (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()
    )
    if not whole or int(value) not in allowed:
        raise InvalidClientMetadata(
            f"{name} must be a whole number of seconds from {allowed.start} to {allowed.stop - 1}"
        )
    return int(value)


def _web_page(fields: dict[str, Any], name: str) -> str | None:
    url = _optional_string(fields, name)
    if url is None:
        return None
    if len(url) > MAX_REDIRECT_URI_LENGTH:
        raise InvalidClientMetadata(f"{name} is longer than {MAX_REDIRECT_URI_LENGTH} characters")
    if problem := text_problem(url) or web_url_problem(url):
        raise InvalidClientMetadata(f"{name}: '{url}' {problem}")
    return url


def _contacts(fields: dict[str, Any]) -> tuple[str, ...]:
    contacts = _strings(fields, "contacts") or []
    if len(contacts) > MAX_CONTACTS:
        raise InvalidClientMetadata(f"contacts: more than {MAX_CONTACTS}")
    for contact in contacts:
        if js_trim(contact) == "" or len(contact) > MAX_CONTACT_LENGTH or not contact.isprintable():
            raise InvalidClientMetadata(
                f"contacts: each must be printable text of 1 to {MAX_CONTACT_LENGTH} characters"
            )
    return tuple(contacts)
