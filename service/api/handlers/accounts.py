"""``/api/v1/login``, ``/api/v1/logout``, ``/api/v1/me``."""

from __future__ import annotations

from aiohttp import web

from service.api.auth import authenticated
from service.api.bodies import read_body
from service.api.client_address import client_address
from service.api.credentials import login_token
from service.api.keys import AUTH_CACHE, DATABASE, PASSWORD_CHECKS, SETTINGS
from service.api.responses import json_response
from service.domain.accounts import Principal
from service.domain.errors import AuthenticationRequired, InvalidParams
from service.usecases import accounts

routes = web.RouteTableDef()


@routes.post("/api/v1/login")
async def login(request: web.Request) -> web.Response:
    """Exchange a username (or email) and password for a login token."""
    body = await read_body(request)
    if not isinstance(body, dict):
        raise InvalidParams("must be object")
    login_name = body.get("username", body.get("user"))
    password = body.get("password")
    if not isinstance(login_name, str) or not isinstance(password, str):
        raise InvalidParams("must have string properties 'username' (or 'user') and 'password'")
    address = client_address(request, request.app[SETTINGS].trusted_proxies)
    token, profile = await accounts.login(
        request.app[DATABASE], request.app[PASSWORD_CHECKS], login_name, password, address
    )
    return json_response(
        {
            "status": "success",
            "data": {
                "userId": token.user_id,
                "authToken": token.auth_token,
                "me": profile.to_document(),
            },
        }
    )


@routes.post("/api/v1/logout")
@authenticated()
async def logout(request: web.Request, principal: Principal) -> web.Response:
    """Revoke the token that authenticated this request."""
    _, token = login_token(request)
    await accounts.logout(request.app[DATABASE], principal.id, token, cache=request.app[AUTH_CACHE])
    return json_response({"status": "success", "data": {"message": "You've been logged out!"}})


@routes.get("/api/v1/me")
@authenticated()
async def me(request: web.Request, principal: Principal) -> web.Response:
    """Return the caller's profile."""
    profile = await accounts.profile(request.app[DATABASE], principal.id)
    if profile is None:  # deleted between authentication and now
        raise AuthenticationRequired()
    return json_response(profile.to_document() | {"success": True})
