"""Request ids, and the one place where every failure becomes a JSON error."""

from __future__ import annotations

import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler
from aiohttp.web_request import BaseRequest

from service.api.bodies import body_too_large
from service.api.keys import DATABASE
from service.api.responses import ApiError, json_response, typed_error
from service.domain.errors import AppNotFound, InvalidParams, InvalidQuery, RuleViolation
from service.domain.idempotency import IdempotencyError
from service.logs import request_id_var
from service.metrics import DB_POOL_IN_USE, HTTP_LATENCY, HTTP_REQUESTS
from service.persistence.database import is_database_unavailable

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = web.RequestKey("request_id", str)
# Ids from proxies (UUIDs, trace ids) are reused; anything else is replaced, so a
# caller cannot inject arbitrary text into the logs.
_WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tag the request and its log lines with an id, returned as ``X-Request-Id``."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _WELL_FORMED_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    request[REQUEST_ID_KEY] = request_id  # the access log runs after the context is reset
    token = request_id_var.set(request_id)
    try:
        response = await handler(request)
    finally:
        request_id_var.reset(token)
    response.headers[REQUEST_ID_HEADER] = request_id
    if request.path.startswith("/api/"):
        # Responses carry tokens and secrets: no cache may keep them.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time requests by route (the route's pattern, not the raw path)."""
    started = time.perf_counter()
    response = await handler(request)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    HTTP_REQUESTS.labels(route, request.method, str(response.status)).inc()
    HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)
    if DATABASE in request.app:
        DB_POOL_IN_USE.set(getattr(request.app[DATABASE].engine.pool, "checkedout", lambda: 0)())
    return response


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


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every exception to a JSON error; nothing reaches the client as a traceback."""
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except InvalidParams as error:
        return typed_error(400, "invalid-params", error.message).response()
    except RuleViolation as error:
        return typed_error(
            400, error.error_type, error.message, details={"method": error.method}
        ).response()
    except InvalidQuery as error:
        body = {"success": False, "errorType": "error-invalid-params", "error": error.message}
        return json_response(body, 400)
    except IdempotencyError as error:
        return typed_error(error.status, error.error_type, error.message).response()
    except AppNotFound:
        return json_response({"success": False, "error": "OAuth app not found."}, 400)
    except web.HTTPRequestEntityTooLarge:
        return body_too_large().response()
    except web.HTTPMethodNotAllowed as error:
        return _method_not_allowed(request, error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return typed_error(error.status, _error_type(error), _describe(request, error)).response()
    except Exception as error:
        if is_database_unavailable(error):
            log.warning("database unavailable", exc_info=error)
            return typed_error(
                503, "error-service-unavailable", "The database is unavailable, try again shortly"
            ).response()
        log.exception("unhandled error")
        return typed_error(500, "error-internal", "Internal server error").response()


def _method_not_allowed(request: web.Request, error: web.HTTPMethodNotAllowed) -> web.Response:
    allowed = ", ".join(sorted(error.allowed_methods))
    response = typed_error(
        405, "error-method-not-allowed", f"Method {request.method} is not allowed; use {allowed}"
    ).response()
    response.headers["Allow"] = allowed
    return response


def _error_type(error: web.HTTPException) -> str:
    return "error-not-found" if error.status == 404 else "error-http"


def _describe(request: web.Request, error: web.HTTPException) -> str:
    if error.status == 404:
        return f"API endpoint {request.path!r} does not exist"
    return error.reason
