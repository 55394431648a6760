"""RFC 7592's client configuration endpoint, for callers who hold ``manage-oauth-apps``.

Answers are RFC 6750's: 401 ``invalid_token`` without valid credentials (or for an
unknown client, as RFC 7592 section 2 says), 403 ``insufficient_scope`` without the
permission.
"""

from __future__ import annotations

import functools

from aiohttp import web

from service.api.auth import AuthenticatedHandler, Handler, authenticated
from service.api.bodies import read_json
from service.api.errors import NO_STORE, ErrorFamily, error_family
from service.api.handlers.oauth_apps import forget_clients
from service.api.keys import DATABASE, SETTINGS
from service.api.responses import json_response
from service.domain.accounts import MANAGE_OAUTH_APPS, Principal
from service.domain.errors import AuthenticationRequired, PermissionDenied
from service.domain.oauth2.client_metadata import registration_document
from service.domain.oauth2.errors import InsufficientScope, InvalidToken
from service.domain.oauth2.pkce import PkceMode
from service.usecases.oauth2 import client_registration
from service.usecases.oauth2.client_registration import Registration

routes = web.RouteTableDef()

PATH = "/oauth/register/{client_id}"


def _administrators(handler: AuthenticatedHandler) -> Handler:
    """``authenticated(MANAGE_OAUTH_APPS)``, its refusals in RFC 6750's words."""
    guarded = authenticated(MANAGE_OAUTH_APPS)(handler)

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await guarded(request)
        except AuthenticationRequired:
            raise InvalidToken(
                "X-User-Id and X-Auth-Token of a user with manage-oauth-apps are required"
            ) from None
        except PermissionDenied:
            raise InsufficientScope("The caller does not hold manage-oauth-apps") from None

    return wrapper


def _answer(request: web.Request, registration: Registration) -> web.Response:
    settings = request.app[SETTINGS]
    client_id = registration.oauth_app.client_id
    document = registration_document(
        registration.oauth_app,
        registration.metadata,
        pkce_by_default=settings.oauth_pkce is PkceMode.REQUIRED,
        registration_client_uri=f"{settings.issuer}/oauth/register/{client_id}",
    )
    return json_response(document, headers=NO_STORE)


@routes.get(PATH)
@error_family(ErrorFamily.OAUTH)
@_administrators
async def read(request: web.Request, principal: Principal) -> web.Response:
    """RFC 7592 section 2.1: the client's metadata as stored, never its secret."""
    registration = await client_registration.read_registration(
        request.app[DATABASE], request.match_info["client_id"]
    )
    return _answer(request, registration)


@routes.put(PATH)
@error_family(ErrorFamily.OAUTH)
@_administrators
async def replace(request: web.Request, principal: Principal) -> web.Response:
    """RFC 7592 section 2.2: replace the metadata; the same event as ``oauth-apps.update``."""
    settings = request.app[SETTINGS]
    registration = await client_registration.replace_registration(
        request.app[DATABASE],
        principal,
        request.match_info["client_id"],
        await read_json(request),
        policy=settings.redirect_uri_policy,
        pkce=settings.oauth_pkce,
    )
    forget_clients(request)
    return _answer(request, registration)


@routes.delete(PATH)
@error_family(ErrorFamily.OAUTH)
@_administrators
async def delete(request: web.Request, principal: Principal) -> web.Response:
    """RFC 7592 section 2.3: delete the app, its grants and tokens; 204."""
    await client_registration.delete_registration(
        request.app[DATABASE], principal, request.match_info["client_id"]
    )
    forget_clients(request)
    return web.Response(status=204, headers=NO_STORE)
