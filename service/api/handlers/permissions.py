"""``/api/v1/permissions.listAll`` and ``/api/v1/permissions.update``."""

from __future__ import annotations

from aiohttp import web

from service.api.auth import authenticated
from service.api.bodies import read_body
from service.api.keys import DATABASE
from service.api.responses import json_response
from service.domain.accounts import ACCESS_PERMISSIONS, Principal
from service.usecases import permissions

routes = web.RouteTableDef()


@routes.get("/api/v1/permissions.listAll")
@authenticated()
async def list_all(request: web.Request, principal: Principal) -> web.Response:
    """Every permission with its roles; ``updatedSince`` keeps those changed after it."""
    found = await permissions.list_all_permissions(
        request.app[DATABASE], request.query.get("updatedSince")
    )
    return json_response(
        {
            "update": [permission.to_document() for permission in found],
            "remove": [],
            "success": True,
        }
    )


@routes.post("/api/v1/permissions.update")
@authenticated(ACCESS_PERMISSIONS)
async def update(request: web.Request, principal: Principal) -> web.Response:
    """Set which roles hold each listed permission; answer with every permission."""
    body = await read_body(request)
    everything = await permissions.update_permissions(request.app[DATABASE], principal, body)
    documents = [permission.to_document() for permission in everything]
    return json_response({"permissions": documents, "success": True})
