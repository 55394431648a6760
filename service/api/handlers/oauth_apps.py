"""The ``/api/v1/oauth-apps.*`` family."""

from __future__ import annotations

from aiohttp import web

from service.api.auth import authenticated
from service.api.bodies import read_body
from service.api.keys import APP_WRITER, AUTH_CACHE, DATABASE, SETTINGS
from service.api.query import parse_query
from service.api.responses import json_response
from service.domain.accounts import MANAGE_OAUTH_APPS, Principal
from service.usecases import oauth_apps
from service.usecases.auth_cache import CLIENTS_TABLE
from service.usecases.oauth_apps import ReplayedApp

routes = web.RouteTableDef()

APP_ID_DEPRECATION = (
    'The parameter "appId" in the endpoint "oauth-apps.get" is deprecated; use "_id" instead'
)


@routes.post("/api/v1/oauth-apps.create")
@authenticated(MANAGE_OAUTH_APPS)
async def create(request: web.Request, principal: Principal) -> web.Response:
    """Register an app; the response is the only place its secret ever appears."""
    outcome = await oauth_apps.register_oauth_app(
        request.app[DATABASE],
        request.app[APP_WRITER],
        principal,
        body=await read_body(request),
        policy=request.app[SETTINGS].redirect_uri_policy,
        idempotency_key=request.headers.get("Idempotency-Key"),
        pkce=request.app[SETTINGS].oauth_pkce,
    )
    if isinstance(outcome, ReplayedApp):
        return json_response(
            {"application": outcome.document, "success": True},
            headers={"Idempotent-Replayed": "true"},
        )
    return json_response(
        {"application": outcome.oauth_app.to_document(outcome.client_secret), "success": True}
    )


@routes.get("/api/v1/oauth-apps.list")
@authenticated(MANAGE_OAUTH_APPS)
async def list_(request: web.Request, principal: Principal) -> web.Response:
    """List apps, newest first, paged by ``offset``/``count`` or by ``cursor``."""
    listed = await oauth_apps.list_oauth_apps(request.app[DATABASE], request.query)
    return json_response(
        {
            "oauthApps": [oauth_app.to_document() for oauth_app in listed.oauth_apps],
            "count": len(listed.oauth_apps),
            "offset": listed.page.offset,
            "total": listed.total,
            "nextCursor": listed.next_cursor and listed.next_cursor.encode(),
            "success": True,
        }
    )


@routes.get("/api/v1/oauth-apps.get")
@authenticated()
async def get(request: web.Request, principal: Principal) -> web.Response:
    """Return one app by ``_id`` or ``clientId`` (or the deprecated ``appId``)."""
    found, deprecated = await oauth_apps.get_oauth_app(
        request.app[DATABASE], parse_query(request.query_string)
    )
    response = json_response({"oauthApp": found.to_document(), "success": True})
    if deprecated:
        response.headers["X-Deprecation-Message"] = APP_ID_DEPRECATION
    return response


@routes.post("/api/v1/oauth-apps.update")
@authenticated(MANAGE_OAUTH_APPS)
async def update(request: web.Request, principal: Principal) -> web.Response:
    """Change an app's name, redirect URIs and active flag."""
    updated = await oauth_apps.update_oauth_app(
        request.app[DATABASE],
        principal,
        await read_body(request),
        policy=request.app[SETTINGS].redirect_uri_policy,
    )
    forget_clients(request)
    return json_response(updated.to_document() | {"success": True})


@routes.post("/api/v1/oauth-apps.delete")
@authenticated(MANAGE_OAUTH_APPS)
async def delete(request: web.Request, principal: Principal) -> web.Response:
    """Delete an app."""
    await oauth_apps.delete_oauth_app(request.app[DATABASE], principal, await read_body(request))
    forget_clients(request)
    return json_response(True)  # Rocket.Chat's API.v1.success(true): the body is `true`


@routes.post("/api/v1/oauth-apps.rotateSecret")
@authenticated(MANAGE_OAUTH_APPS)
async def rotate_secret(request: web.Request, principal: Principal) -> web.Response:
    """Replace an app's secret and show the new one, this once."""
    issued = await oauth_apps.rotate_oauth_app_secret(
        request.app[DATABASE], principal, await read_body(request)
    )
    forget_clients(request)
    return json_response(
        {"application": issued.oauth_app.to_document(issued.client_secret), "success": True}
    )


def forget_clients(request: web.Request) -> None:
    """This process forgets cached clients at once; the others on the change's notification."""
    request.app[AUTH_CACHE].clear(CLIENTS_TABLE)
