"""The authorization server's JSON endpoints: token, revoke, introspect, userinfo."""

from __future__ import annotations

from aiohttp import web

from service.api.auth import principal_from_headers
from service.api.bodies import read_form
from service.api.credentials import basic_credentials, bearer_token, client_credentials
from service.api.errors import NO_STORE, ErrorFamily, error_family
from service.api.keys import OAUTH2
from service.api.oauth2.cors import CorsPolicy, cors
from service.api.responses import json_response
from service.domain.accounts import MANAGE_OAUTH_APPS
from service.domain.oauth2.claims import user_claims
from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import InsufficientScope, InvalidClient, InvalidToken
from service.metrics import OAUTH_INTROSPECTIONS, OAUTH_TOKENS_ISSUED
from service.usecases.oauth2 import bearer, introspection, revocation
from service.usecases.oauth2.client_authentication import authenticate_client
from service.usecases.oauth2.grant_types import issue_tokens
from service.usecases.oauth2.token_requests import TokenRequest, single_field

routes = web.RouteTableDef()


async def _client_request(request: web.Request) -> TokenRequest:
    """The form of a client's request, with the client its credentials prove."""
    form = await read_form(request)
    client = await authenticate_client(request.app[OAUTH2], *client_credentials(request, form))
    return TokenRequest(client, form)


@routes.post("/oauth/token")
@error_family(ErrorFamily.OAUTH)
@cors(CorsPolicy.APP_ORIGINS)
async def token(request: web.Request) -> web.Response:
    """RFC 6749 section 3.2, through the registry of grant types."""
    client_request = await _client_request(request)
    issued = await issue_tokens(request.app[OAUTH2], client_request.client, client_request)
    OAUTH_TOKENS_ISSUED.labels(issued.grant_type).inc()
    return json_response(issued.tokens.to_document(), headers=NO_STORE)


@routes.post("/oauth/revoke")
@error_family(ErrorFamily.OAUTH)
@cors(CorsPolicy.APP_ORIGINS)
async def revoke(request: web.Request) -> web.Response:
    """RFC 7009: 200 for a revoked token and for an unknown one alike."""
    client_request = await _client_request(request)
    await revocation.revoke(
        request.app[OAUTH2], client_request.client, client_request.field("token")
    )
    return web.Response(status=200, headers=NO_STORE)


@routes.post("/oauth/introspect")
@error_family(ErrorFamily.OAUTH)
async def introspect(request: web.Request) -> web.Response:
    """RFC 7662: for the token's own client, or a user who manages OAuth apps."""
    form = await read_form(request)
    client: Client | None = None
    if request.headers.get("X-User-Id") and basic_credentials(request) is None:
        principal = await principal_from_headers(request)
        if not principal.can(MANAGE_OAUTH_APPS):
            raise InvalidClient("Introspection needs manage-oauth-apps or the client")
    else:
        client = await authenticate_client(request.app[OAUTH2], *client_credentials(request, form))
    answer = await introspection.introspect(
        request.app[OAUTH2], single_field(form, "token"), client=client
    )
    OAUTH_INTROSPECTIONS.inc()
    return json_response(answer, headers=NO_STORE)


@routes.get("/oauth/userinfo")
@routes.post("/oauth/userinfo")
@error_family(ErrorFamily.OAUTH)
@cors(CorsPolicy.APP_ORIGINS)
async def userinfo(request: web.Request) -> web.Response:
    """The user of an access token with ``openid``: in the header, or (POST) in the form."""
    access_token = bearer_token(request)
    if access_token is None and request.method == "POST":
        access_token = single_field(await read_form(request), "access_token")
    found = None
    if access_token:
        found = await bearer.bearer_user(request.app[OAUTH2], access_token)
    if found is None:
        raise InvalidToken("A live access token is required")
    _, stored = found
    if "openid" not in stored.scope or stored.user is None:
        raise InsufficientScope.lacking("openid")
    return json_response(user_claims(stored.user, stored.scope), headers=NO_STORE)
