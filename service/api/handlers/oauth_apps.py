"""The ``/api/v1/oauth-apps.*`` family."""

from __future__ import annotations

from aiohttp import web

from service.api.auth import authenticated
from service.api.bodies import read_body
from service.api.keys import SESSIONS, SETTINGS
from service.api.responses import json_response
from service.domain.accounts import MANAGE_OAUTH_APPS, Principal
from service.operations import oauth_apps

routes = web.RouteTableDef()


@routes.post("/api/v1/oauth-apps.create")
@authenticated(MANAGE_OAUTH_APPS)
async def create(request: web.Request, principal: Principal) -> web.Response:
    """Register an app; the response is the only place its secret ever appears."""
    body = await read_body(request)
    issued = await oauth_apps.create_app(
        request.app[SESSIONS], principal, body, request.app[SETTINGS].redirect_uri_policy
    )
    return json_response(
        {"application": issued.app.to_document(issued.client_secret), "success": True}
    )
