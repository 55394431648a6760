"""The one middleware (request ids, metrics, errors) and the JSON access log."""

from __future__ import annotations

import logging
import re
import time
from uuid import uuid4

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_request import BaseRequest

from service.api.bodies import body_too_large
from service.api.connections import ConnectionGuard
from service.api.errors import (
    error_response,
    http_error,
    internal_error,
    service_unavailable,
)
from service.api.keys import DATABASE
from service.domain.errors import DomainError
from service.logs import request_id_var
from service.metrics import DB_POOL_IN_USE, HTTP_LATENCY, HTTP_REQUESTS
from service.persistence.database import is_transient_database_error

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = web.RequestKey("request_id", str)
# Ids from proxies (UUIDs, trace ids) are reused; anything else is replaced, so a
# caller cannot inject arbitrary text into the logs.
_WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_middleware(guard: ConnectionGuard) -> Middleware:
    """What every request needs, as one layer rather than four nested ones.

    In order: the connection guard learns that the connection is busy; the request
    gets its id (for its log lines and ``X-Request-Id``); every failure becomes a JSON
    error; the request is counted and timed by route. Each middleware layer costs a
    coroutine and aiohttp's wrapping per request, and a create is only a few of them.
    """
    pool_in_use = -1  # last value written to the gauge: a write per change, not per request

    @web.middleware
    async def handle(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal pool_in_use
        guard.request_started(request.transport)
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _WELL_FORMED_REQUEST_ID.fullmatch(incoming) else uuid4().hex
        request[REQUEST_ID_KEY] = request_id  # the access log runs after the context is reset
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = await _answer(request, handler)
        finally:
            request_id_var.reset(token)
            guard.request_finished(request.transport)
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        HTTP_REQUESTS.labels(route, request.method, str(response.status)).inc()
        HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)
        if DATABASE in request.app:
            in_use = request.app[DATABASE].engine.pool.checkedout()  # type: ignore[attr-defined]
            if in_use != pool_in_use:
                pool_in_use = in_use
                DB_POOL_IN_USE.set(in_use)
        response.headers[REQUEST_ID_HEADER] = request_id
        if request.path.startswith("/api/"):
            # Responses carry tokens and secrets: no cache may keep them.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return handle


class JsonAccessLogger(AbstractAccessLogger):
    """One JSON line per request; the path only, never the query string or headers."""

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Write the access log line."""
        self.logger.info(
            "request",
            extra={
                "fields": {
                    "request_id": request.get(REQUEST_ID_KEY),
                    "method": request.method,
                    "path": request.path,
                    "status": response.status,
                    "duration_ms": round(time * 1000, 2),
                    "remote": request.remote,
                }
            },
        )


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every exception to an error of the route's family; never a traceback."""
    try:
        return await handler(request)
    except DomainError as error:
        return error_response(request, error)
    except web.HTTPRequestEntityTooLarge:
        return error_response(request, body_too_large())
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return http_error(request, error)
    except Exception as error:
        if is_transient_database_error(error):
            log.warning("database unavailable", exc_info=error)
            return service_unavailable(request, "The database is unavailable, try again shortly")
        log.exception("unhandled error")
        return internal_error(request)
