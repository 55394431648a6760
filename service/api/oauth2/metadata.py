"""RFC 8414 metadata, each list derived from what the server supports, never kept by hand."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from service.api.errors import ErrorFamily, error_family
from service.api.keys import SETTINGS
from service.api.responses import json_response
from service.domain.oauth2.authorization import RESPONSE_TYPES_SUPPORTED
from service.domain.oauth2.clients import ClientAuthMethod
from service.domain.oauth2.pkce import METHODS_SUPPORTED
from service.domain.oauth2.scopes import SCOPES
from service.usecases.oauth2.grant_types import GRANT_TYPES

routes = web.RouteTableDef()


def server_metadata(issuer: str) -> dict[str, Any]:
    """The authorization server's metadata, every URL built from the issuer (``PUBLIC_URL``)."""
    auth_methods = [method.value for method in ClientAuthMethod]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "scopes_supported": [scope.name for scope in SCOPES],
        "response_types_supported": list(RESPONSE_TYPES_SUPPORTED),
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": list(METHODS_SUPPORTED),
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
    }


@routes.get("/.well-known/oauth-authorization-server")
@error_family(ErrorFamily.OAUTH)
async def metadata(request: web.Request) -> web.Response:
    """RFC 8414 metadata."""
    return json_response(server_metadata(request.app[SETTINGS].issuer))
