"""Discovery: OpenID Connect Discovery 1.0 and RFC 8414, one document at both addresses.

And RFC 9728's metadata of the one protected resource, ``/api/v1``.

Each list is derived from what the server supports (the registries of grant types,
client authentication methods, scopes and their claims, prompt values, the signing
keys), never kept by hand.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from service.api.errors import ErrorFamily, error_family
from service.api.keys import OAUTH2, SETTINGS
from service.api.oauth2.cors import CorsPolicy, cors
from service.api.responses import json_response
from service.domain.oauth2.authorization import (
    PROMPT_VALUES_SUPPORTED,
    RESPONSE_MODES_SUPPORTED,
    RESPONSE_TYPES_SUPPORTED,
)
from service.domain.oauth2.clients import CONFIDENTIAL_AUTH_METHODS, ClientAuthMethod
from service.domain.oauth2.pkce import METHODS_SUPPORTED
from service.domain.oauth2.registration import RegistrationMode
from service.domain.oauth2.resources import (
    API_PATH,
    API_SCOPE,
    PROTECTED_RESOURCE_METADATA_PATH,
    api_resource,
)
from service.domain.oauth2.scopes import CLAIMS_SUPPORTED, SCOPES
from service.usecases.oauth2.grant_types import GRANT_TYPES

routes = web.RouteTableDef()


def server_metadata(
    issuer: str, signing_algorithms: list[str], *, registration: bool = False
) -> dict[str, Any]:
    """The server's metadata, every URL built from the issuer (``PUBLIC_URL``).

    ``registration_endpoint`` is there only when ``POST /oauth/register`` is (RFC 8414).
    """
    auth_methods = [method.value for method in ClientAuthMethod]
    # A public client's client_id alone authorizes no introspection.
    secret_methods = [
        method.value for method in ClientAuthMethod if method in CONFIDENTIAL_AUTH_METHODS
    ]
    document: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "jwks_uri": f"{issuer}/oauth/jwks",
        "end_session_endpoint": f"{issuer}/oauth/logout",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "scopes_supported": [scope.name for scope in SCOPES],
        "response_types_supported": list(RESPONSE_TYPES_SUPPORTED),
        "response_modes_supported": list(RESPONSE_MODES_SUPPORTED),
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": signing_algorithms,
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": secret_methods,
        "code_challenge_methods_supported": list(METHODS_SUPPORTED),
        "claims_supported": list(dict.fromkeys(CLAIMS_SUPPORTED)),
        "prompt_values_supported": list(PROMPT_VALUES_SUPPORTED),
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }
    if registration:
        document["registration_endpoint"] = f"{issuer}/oauth/register"
    return document


@routes.get("/.well-known/oauth-authorization-server")
@routes.get("/.well-known/openid-configuration")
@error_family(ErrorFamily.OAUTH)
@cors(CorsPolicy.ANY_ORIGIN)
async def metadata(request: web.Request) -> web.Response:
    """The discovery document (the same at RFC 8414's address and OpenID's)."""
    settings = request.app[SETTINGS]
    document = server_metadata(
        settings.issuer,
        request.app[OAUTH2].keys.algorithms,
        registration=settings.oauth_registration is not RegistrationMode.OFF,
    )
    return json_response(document, headers={"Cache-Control": "public, max-age=300"})


@routes.get(PROTECTED_RESOURCE_METADATA_PATH)
@routes.get(PROTECTED_RESOURCE_METADATA_PATH + API_PATH)
@error_family(ErrorFamily.OAUTH)
async def protected_resource(request: web.Request) -> web.Response:
    """RFC 9728: ``/api/v1`` as a protected resource, and the server that issues its tokens."""
    issuer = request.app[SETTINGS].issuer
    document = {
        "resource": api_resource(issuer),
        "authorization_servers": [issuer],
        # What /api/v1 asks of a token: an MCP client requests these by default.
        "scopes_supported": [API_SCOPE],
        "bearer_methods_supported": ["header"],
    }
    return json_response(document, headers={"Cache-Control": "public, max-age=300"})
