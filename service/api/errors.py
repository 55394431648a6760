"""The one table from failures to HTTP responses, rendered in the family of the route.

Three families, each with its own shapes: Rocket.Chat's JSON for ``/api/v1/*`` (the
default), RFC 6749's JSON for the authorization server's endpoints, and an HTML
page for pages. A route names its family once, with ``@error_family``; the
middleware renders every failure of that route through it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from aiohttp import web

from service.api.credentials import uses_authorization_header
from service.api.keys import SETTINGS
from service.api.pages import error_page
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
from service.domain.oauth2.errors import (
    AuthorizeRefused,
    FormRefused,
    InsufficientScope,
    InvalidClient,
    InvalidToken,
    OAuthError,
)
from service.domain.oauth2.resources import API_PATH, resource_metadata_challenge
from service.metrics import OAUTH_TOKEN_ERRORS

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


# Rocket.Chat's shapes. Most specific first: a subclass must come before its base.
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
        InsufficientScope,
        lambda error: json_response(
            {"success": False, "error": "insufficient_scope"},
            403,
            {"WWW-Authenticate": _insufficient_scope_challenge(error)},
        ),
    ),
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


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error(error: str, description: str, status: int = 400, **headers: str) -> web.Response:
    """RFC 6749 section 5.2's ``{error, error_description}``, never cached."""
    OAUTH_TOKEN_ERRORS.labels(error).inc()
    body = {"error": error, "error_description": description}
    return json_response(body, status, NO_STORE | headers)


def _insufficient_scope_challenge(error: InsufficientScope) -> str:
    """RFC 6750 section 3: which scope the token lacks, when a scope is what lacks."""
    scope = f', scope="{error.needed}"' if error.needed else ""
    return f'Bearer error="insufficient_scope"{scope}'


def _oauth_failure(request: web.Request, error: DomainError) -> web.Response:
    """The RFC family: OAuth errors with their status, bad bodies as ``invalid_request``."""
    if isinstance(error, InvalidClient | AuthenticationRequired):
        # RFC 6749 section 5.2: a client that tried an Authorization header is told
        # the scheme to use.
        headers = {}
        if uses_authorization_header(request):
            headers["WWW-Authenticate"] = 'Basic realm="oauth-apps"'
        description = error.message if isinstance(error, InvalidClient) else InvalidClient().message
        return oauth_error("invalid_client", description, 401, **headers)
    if isinstance(error, InsufficientScope):
        challenge = _insufficient_scope_challenge(error)
        return oauth_error(error.error, error.message, 403, **{"WWW-Authenticate": challenge})
    if isinstance(error, InvalidToken):
        return oauth_error(
            error.error, error.message, 401, **{"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    if isinstance(error, OAuthError):
        return oauth_error(error.error, error.message)
    if isinstance(error, RateLimited):
        # No RFC names this error; "try later" is what temporarily_unavailable says.
        headers = {"Retry-After": str(error.retry_after)} | error.headers
        return oauth_error("temporarily_unavailable", error.message, 429, **headers)
    if isinstance(error, BodyTooLarge):
        return oauth_error("invalid_request", error.message, 413)
    if isinstance(error, BodyTimeout):
        return oauth_error("invalid_request", error.message, 408, Connection="close")
    if isinstance(error, InvalidParams):
        return oauth_error("invalid_request", error.message)
    return domain_error_response(error)


def _page_failure(request: web.Request, error: DomainError) -> web.Response:
    """The page family: what happened, in words, on the error page."""
    if isinstance(error, FormRefused):
        return error_page(request, error.message, 403)
    if isinstance(error, AuthorizeRefused | InvalidParams):
        return error_page(request, error.message, 400)
    if isinstance(error, BodyTimeout):
        return error_page(request, error.message, 408)
    return domain_error_response(error)


class ErrorFamily(Enum):
    """How a route's failures are rendered."""

    ROCKET_CHAT = "rocket.chat"
    OAUTH = "oauth"
    PAGE = "page"


_FAMILY_ATTRIBUTE = "error_family"
Handler = TypeVar("Handler", bound=Callable[..., Any])


def error_family(family: ErrorFamily) -> Callable[[Handler], Handler]:
    """Mark a route's handler: its failures are rendered in ``family``."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, _FAMILY_ATTRIBUTE, family)
        return handler

    return mark


def family_of(request: web.Request) -> ErrorFamily:
    """The family of the route that ``request`` matched (Rocket.Chat's when none)."""
    handler = request.match_info.handler
    family = getattr(handler, _FAMILY_ATTRIBUTE, ErrorFamily.ROCKET_CHAT)
    assert isinstance(family, ErrorFamily)
    return family


def error_response(request: web.Request, error: DomainError) -> web.Response:
    """The response to ``error`` in the family of the request's route."""
    family = family_of(request)
    if family is ErrorFamily.OAUTH:
        return _oauth_failure(request, error)
    if family is ErrorFamily.PAGE:
        return _page_failure(request, error)
    response = domain_error_response(error)
    if response.status == 401 and request.path.startswith(API_PATH + "/"):
        # RFC 9728 section 5.1: where an OAuth client (an MCP client) learns how to get
        # a token; the body stays Rocket.Chat's.
        issuer = request.app[SETTINGS].issuer
        response.headers["WWW-Authenticate"] = resource_metadata_challenge(issuer)
    return response


def domain_error_response(error: DomainError) -> web.Response:
    """Rocket.Chat's response for ``error``; an unmapped domain error is a bug, hence a 500."""
    for error_class, respond in _TABLE:
        if isinstance(error, error_class):
            return respond(error)
    raise error


def service_unavailable(request: web.Request, message: str) -> web.Response:
    """The 503 of a dependency that is down for now, with ``Retry-After``, in the family."""
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    family = family_of(request)
    if family is ErrorFamily.OAUTH:
        return oauth_error("temporarily_unavailable", message, 503, **retry)
    if family is ErrorFamily.PAGE:
        response = error_page(request, message, 503)
        response.headers.update(retry)
        return response
    return typed_error(503, "error-service-unavailable", message, headers=retry)


def internal_error(request: web.Request) -> web.Response:
    """The 500 of a bug; the details go to the log, never to the client."""
    message = "Internal server error"
    family = family_of(request)
    if family is ErrorFamily.OAUTH:
        return oauth_error("server_error", message, 500)
    if family is ErrorFamily.PAGE:
        return error_page(request, "Something went wrong on our side: try again later.", 500)
    return typed_error(500, "error-internal", message)


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
