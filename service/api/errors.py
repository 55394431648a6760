"""The one table from failures to HTTP responses: Rocket.Chat's error shapes, by status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from service.api.responses import json_response
from service.domain.errors import (
    AppNotFound,
    AuthenticationRequired,
    DomainError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidBodyParams,
    InvalidIdempotencyKey,
    InvalidParams,
    InvalidPermission,
    InvalidQuery,
    InvalidRole,
    InvalidUpdatedSince,
    LoginFailed,
    PermissionDenied,
    RateLimited,
    RuleViolation,
)
from service.domain.oauth2 import AuthorizeRefused, OAuthError

UNAUTHORIZED_MESSAGE = "You must be logged in to do this."
FORBIDDEN_MESSAGE = (
    "User does not have the permissions required for this action [error-unauthorized]"
)
# Transient database failures: how long a client should wait before retrying.
RETRY_AFTER_SECONDS = 1


class BodyTooLarge(InvalidParams):
    """The request body is over the limit (413)."""


class UnsupportedMediaType(InvalidParams):
    """The body is neither JSON nor form-encoded (415)."""


class BodyTimeout(DomainError):
    """The client declared a body and did not send it in time (408)."""


def typed_error(
    status: int,
    error_type: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """Return Rocket.Chat's ``{success, error: "message [type]", errorType}`` error."""
    body = {"success": False, "error": f"{message} [{error_type}]", "errorType": error_type}
    return json_response(body | extra, status, headers)


def _invalid_params(status: int) -> Callable[[Any], web.Response]:
    return lambda error: typed_error(status, "invalid-params", error.message)


def _rule_violation(error: RuleViolation) -> web.Response:
    return typed_error(400, error.error_type, error.message, details={"method": error.method})


def _unauthorized(_: DomainError) -> web.Response:
    body = {
        "success": False,
        "error": UNAUTHORIZED_MESSAGE,
        "status": "error",
        "message": UNAUTHORIZED_MESSAGE,
    }
    return json_response(body, 401)


def _failure(error: DomainError, error_type: str) -> web.Response:
    """Rocket.Chat's ``API.v1.failure(message, type)``: the message without a suffix."""
    return json_response({"success": False, "error": error.message, "errorType": error_type}, 400)


def _rate_limited(error: RateLimited) -> web.Response:
    headers = {"Retry-After": str(error.retry_after)} | error.headers
    return typed_error(429, "error-too-many-requests", error.message, headers=headers)


# Most specific first: a subclass must come before its base.
_TABLE: tuple[tuple[type[Any], Callable[[Any], web.Response]], ...] = (
    (BodyTooLarge, _invalid_params(413)),
    (UnsupportedMediaType, _invalid_params(415)),
    (InvalidParams, _invalid_params(400)),
    (InvalidIdempotencyKey, _invalid_params(400)),
    (RuleViolation, _rule_violation),
    (
        InvalidQuery,
        lambda error: json_response(
            {"success": False, "errorType": "error-invalid-params", "error": error.message}, 400
        ),
    ),
    (
        IdempotencyKeyReused,
        lambda error: typed_error(422, "error-idempotency-key-reused", error.message),
    ),
    (
        IdempotencyKeyInFlight,
        lambda error: typed_error(409, "error-idempotency-key-in-flight", error.message),
    ),
    (
        AppNotFound,
        lambda _: json_response({"success": False, "error": "OAuth app not found."}, 400),
    ),
    (AuthenticationRequired, _unauthorized),
    (
        PermissionDenied,
        lambda _: json_response({"success": False, "error": FORBIDDEN_MESSAGE}, 403),
    ),
    (
        LoginFailed,
        lambda _: json_response(
            {"status": "error", "error": "Unauthorized", "message": "Unauthorized"}, 401
        ),
    ),
    (RateLimited, _rate_limited),
    (
        OAuthError,
        lambda error: json_response(
            {"error": error.error, "error_description": error.message},
            error.status,
            {"Cache-Control": "no-store"},
        ),
    ),
    (AuthorizeRefused, lambda error: typed_error(400, "invalid_request", error.message)),
    (InvalidBodyParams, lambda error: _failure(error, "error-invalid-body-params")),
    (InvalidPermission, lambda error: _failure(error, "error-invalid-permission")),
    (InvalidRole, lambda error: _failure(error, "error-invalid-role")),
    (
        InvalidUpdatedSince,
        lambda error: typed_error(400, "error-roomId-param-invalid", error.message),
    ),
    (
        BodyTimeout,
        lambda error: typed_error(
            408, "error-request-timeout", error.message, headers={"Connection": "close"}
        ),
    ),
)


def domain_error_response(error: DomainError) -> web.Response:
    """Return the response for ``error``; an unmapped domain error is a bug, hence a 500."""
    for error_class, respond in _TABLE:
        if isinstance(error, error_class):
            return respond(error)
    raise error


def service_unavailable(message: str) -> web.Response:
    """Return the 503 of a dependency that is down for now, with ``Retry-After``."""
    return typed_error(
        503,
        "error-service-unavailable",
        message,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def internal_error() -> web.Response:
    """Return the 500 of a bug; the details go to the log, never to the client."""
    return typed_error(500, "error-internal", "Internal server error")


def http_error(request: web.Request, error: web.HTTPException) -> web.Response:
    """Return aiohttp's routing errors (404, 405, ...) in the JSON error shape."""
    if isinstance(error, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(error.allowed_methods))
        return typed_error(
            405,
            "error-method-not-allowed",
            f"Method {request.method} is not allowed; use {allowed}",
            headers={"Allow": allowed},
        )
    if error.status == 404:
        return typed_error(404, "error-not-found", f"API endpoint {request.path!r} does not exist")
    return typed_error(error.status, "error-http", error.reason)
