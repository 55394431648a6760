"""RFC 7591's registration endpoint and RFC 7592's client configuration endpoint.

``POST /oauth/register`` exists as ``OAUTH_REGISTRATION`` says: ``off`` (404),
``token`` (an initial access token, Bearer, or an administrator) or ``open``
(anyone, rate limited per address). ``/oauth/register/{client_id}`` takes the
client's registration access token (Bearer) or a caller with ``manage-oauth-apps``.

Answers are RFC 6750's: 401 ``invalid_token`` without valid credentials (or for an
unknown client, as RFC 7592 section 2 says), 403 ``insufficient_scope`` without the
permission.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from service.api.auth import AuthenticatedHandler, Handler, authenticated
from service.api.bodies import read_json
from service.api.client_address import client_address
from service.api.credentials import bearer_token
from service.api.errors import NO_STORE, ErrorFamily, error_family
from service.api.handlers.oauth_apps import forget_clients
from service.api.keys import DATABASE, RATE_LIMITER, SETTINGS
from service.api.responses import json_response
from service.domain.accounts import MANAGE_OAUTH_APPS, Principal
from service.domain.errors import AuthenticationRequired, PermissionDenied, RateLimited
from service.domain.oauth2.client_metadata import registration_document
from service.domain.oauth2.errors import InsufficientScope, InvalidToken
from service.domain.oauth2.pkce import PkceMode
from service.domain.oauth2.registration import RegistrationMode
from service.usecases.oauth2 import client_registration
from service.usecases.oauth2.client_registration import SELF, Registrant, Registration

routes = web.RouteTableDef()

REGISTER_PATH = "/oauth/register"
PATH = "/oauth/register/{client_id}"

# A handler of the configuration endpoint: who calls, and the registration access
# token they presented (None for an administrator), which the answer repeats.
RegistrationHandler = Callable[[web.Request, Registrant, str | None], Awaitable[web.Response]]


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


def _client_or_administrators(handler: RegistrationHandler) -> Handler:
    """The client's registration access token (Bearer), else an administrator's headers."""

    async def as_administrator(request: web.Request, principal: Principal) -> web.Response:
        return await handler(request, client_registration.administrator(principal.actor), None)

    administrators = _administrators(as_administrator)

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        token = bearer_token(request)
        if token is None or request.headers.get("X-User-Id"):
            return await administrators(request)
        await client_registration.authenticate_registration(
            request.app[DATABASE], request.match_info["client_id"], token
        )
        return await handler(request, SELF, token)

    return wrapper


def _document(request: web.Request, registration: Registration) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    client_id = registration.oauth_app.client_id
    return registration_document(
        registration.oauth_app,
        registration.metadata,
        pkce_by_default=settings.oauth_pkce is PkceMode.REQUIRED,
        registration_client_uri=f"{settings.issuer}{REGISTER_PATH}/{client_id}",
    )


def _answer(request: web.Request, registration: Registration, token: str | None) -> web.Response:
    document = _document(request, registration)
    if token is not None:
        # RFC 7592 section 3 names the token in every answer; only its hash is stored,
        # so the client is told back the one it just presented.
        document["registration_access_token"] = token
    return json_response(document, headers=NO_STORE)


@routes.post(REGISTER_PATH)
@error_family(ErrorFamily.OAUTH)
async def register(request: web.Request) -> web.StreamResponse:
    """RFC 7591 section 3: register a client; 201 with its secrets, shown this once."""
    mode = request.app[SETTINGS].oauth_registration
    if mode is RegistrationMode.OFF:
        raise web.HTTPNotFound()
    if request.headers.get("X-User-Id"):
        return await _register_as_administrator(request)
    if mode is RegistrationMode.TOKEN:
        token = bearer_token(request)
        if token is None:
            raise InvalidToken(
                "An initial access token (Bearer), or X-User-Id and X-Auth-Token of a user"
                " with manage-oauth-apps, is required"
            )
        return await _register(request, SELF, token)
    _limit_per_address(request)
    return await _register(request, SELF, None)


@_administrators
async def _register_as_administrator(request: web.Request, principal: Principal) -> web.Response:
    return await _register(request, client_registration.administrator(principal.actor), None)


def _limit_per_address(request: web.Request) -> None:
    """Open registration: ``RATE_LIMIT_CALLS`` per interval from one address (429)."""
    limiter = request.app[RATE_LIMITER]
    if not limiter.calls:
        return
    address = client_address(request, request.app[SETTINGS].trusted_proxies)
    decision = limiter.hit(f"{request.path} {address}")
    if not decision.allowed:
        raise RateLimited(decision.retry_after, decision.headers())


async def _register(
    request: web.Request, registrant: Registrant, initial_access_token: str | None
) -> web.Response:
    settings = request.app[SETTINGS]
    registered = await client_registration.register_client(
        request.app[DATABASE],
        registrant,
        await read_json(request),
        policy=settings.redirect_uri_policy,
        pkce=settings.oauth_pkce,
        initial_access_token=initial_access_token,
    )
    document = _document(request, registered.registration)
    if registered.client_secret is not None:
        document |= {"client_secret": registered.client_secret, "client_secret_expires_at": 0}
    document["registration_access_token"] = registered.registration_access_token
    return json_response(document, 201, NO_STORE)


@routes.get(PATH)
@error_family(ErrorFamily.OAUTH)
@_client_or_administrators
async def read(request: web.Request, registrant: Registrant, token: str | None) -> web.Response:
    """RFC 7592 section 2.1: the client's metadata as stored, never its secret."""
    registration = await client_registration.read_registration(
        request.app[DATABASE], request.match_info["client_id"]
    )
    return _answer(request, registration, token)


@routes.put(PATH)
@error_family(ErrorFamily.OAUTH)
@_client_or_administrators
async def replace(request: web.Request, registrant: Registrant, token: str | None) -> web.Response:
    """RFC 7592 section 2.2: replace the metadata; the same event as ``oauth-apps.update``."""
    settings = request.app[SETTINGS]
    registration = await client_registration.replace_registration(
        request.app[DATABASE],
        registrant,
        request.match_info["client_id"],
        await read_json(request),
        policy=settings.redirect_uri_policy,
        pkce=settings.oauth_pkce,
    )
    forget_clients(request)
    return _answer(request, registration, token)


@routes.delete(PATH)
@error_family(ErrorFamily.OAUTH)
@_client_or_administrators
async def delete(request: web.Request, registrant: Registrant, token: str | None) -> web.Response:
    """RFC 7592 section 2.3: delete the app, its grants and tokens; 204."""
    await client_registration.delete_registration(
        request.app[DATABASE], registrant, request.match_info["client_id"]
    )
    forget_clients(request)
    return web.Response(status=204, headers=NO_STORE)
