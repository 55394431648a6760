"""Endpoints for operators: liveness."""

from __future__ import annotations

from aiohttp import web

from service.api.responses import json_response

routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """Answer while the process serves requests; checks no dependency."""
    return json_response({"status": "ok"})
