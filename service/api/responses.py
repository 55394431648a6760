"""JSON responses and the error bodies of Rocket.Chat's REST API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

UNAUTHORIZED_MESSAGE = "You must be logged in to do this."
FORBIDDEN_MESSAGE = (
    "User does not have the permissions required for this action [error-unauthorized]"
)


def json_response(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Return ``body`` serialised with orjson, keys in insertion order."""
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


class ApiError(Exception):
    """An error response, raised from anywhere below a handler."""

    def __init__(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(body.get("error") or body.get("message"))
        self.status = status
        self.body = body
        self.headers = headers

    def response(self) -> web.Response:
        """Return the error as a response."""
        return json_response(self.body, self.status, self.headers)


def typed_error(status: int, error_type: str, message: str, **extra: Any) -> ApiError:
    """Return Rocket.Chat's ``{success, error: "message [type]", errorType}`` error."""
    body = {"success": False, "error": f"{message} [{error_type}]", "errorType": error_type}
    return ApiError(status, body | extra)


def invalid_params(message: str, status: int = 400) -> ApiError:
    """Return the ``invalid-params`` error that Rocket.Chat sends for schema failures."""
    return typed_error(status, "invalid-params", message)


def unauthorized() -> ApiError:
    """Return the 401 of a request without a valid login."""
    return ApiError(
        401,
        {
            "success": False,
            "error": UNAUTHORIZED_MESSAGE,
            "status": "error",
            "message": UNAUTHORIZED_MESSAGE,
        },
    )


def forbidden() -> ApiError:
    """Return the 403 of a caller without the permission."""
    return ApiError(403, {"success": False, "error": FORBIDDEN_MESSAGE})


def too_many_requests(retry_after: int) -> ApiError:
    """Return Rocket.Chat's rate-limit error."""
    message = (
        "Error, too many requests. Please slow down. "
        f"You must wait {retry_after} seconds before trying this endpoint again."
    )
    error = typed_error(429, "error-too-many-requests", message)
    error.headers = {"Retry-After": str(retry_after)}
    return error
