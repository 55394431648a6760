"""Endpoints for operators: liveness, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

import functools
from pathlib import Path

import orjson
from aiohttp import web

from service.api.keys import READINESS, SETTINGS
from service.api.metrics_view import render_metrics
from service.api.responses import json_response

routes = web.RouteTableDef()

OPENAPI_DOCUMENT = Path(__file__).resolve().parents[1] / "openapi.json"


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """Answer while the process serves requests; checks no dependency."""
    return json_response({"status": "ok"})


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    """Answer 200 when PostgreSQL and RabbitMQ are reachable, else 503 naming what is down."""
    checks = await request.app[READINESS].check()
    down = sorted(name for name, problem in checks.items() if problem)
    body = {
        "status": "unavailable" if down else "ok",
        "checks": {name: problem or "ok" for name, problem in checks.items()},
    }
    if down:
        body["reason"] = f"{' and '.join(down)} unreachable"
    return json_response(body, 503 if down else 200)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    body, content_type = await render_metrics(request.app)
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this API, whose server is this service's ``PUBLIC_URL``."""
    document = _openapi_document(request.app[SETTINGS].issuer)
    return web.Response(body=document, content_type="application/json")


@functools.cache
def _openapi_document(issuer: str) -> bytes:
    # The file names a placeholder server: only the running service knows its own URL.
    document = orjson.loads(OPENAPI_DOCUMENT.read_bytes())
    document["servers"] = [{"url": issuer}]
    return orjson.dumps(document)
