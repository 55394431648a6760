"""Credentials as requests carry them: the one place that reads them from headers and forms.

``X-User-Id``/``X-Auth-Token`` (Rocket.Chat), ``Authorization: Bearer`` (RFC 6750,
and ``?access_token=`` on ``/api/v1`` like Rocket.Chat), ``Authorization: Basic``
with RFC 6749 section 2.3.1's form-encoding, and a client's credentials in a form.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from urllib.parse import unquote_plus

from aiohttp import web

from service.domain.errors import AuthenticationRequired
from service.domain.oauth2.errors import InvalidClient


def login_token(request: web.Request) -> tuple[str, str]:
    """Return ``(X-User-Id, X-Auth-Token)``; 401 when either is missing."""
    user_id = request.headers.get("X-User-Id", "")
    token = request.headers.get("X-Auth-Token", "")
    if not user_id or not token:
        raise AuthenticationRequired()
    return user_id, token


def _scheme(request: web.Request, scheme: str) -> str | None:
    """The credentials after ``Authorization: <scheme>``, case-insensitively."""
    header = request.headers.get("Authorization", "")
    prefix = f"{scheme} "
    if header[: len(prefix)].lower() != prefix.lower():
        return None
    return header[len(prefix) :].strip()


def bearer_token(request: web.Request, *, from_query: bool = False) -> str | None:
    """An access token from ``Authorization: Bearer`` (or ``?access_token=`` when allowed)."""
    token = _scheme(request, "bearer")
    if token is None and from_query:
        token = request.query.get("access_token")
    return token or None


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` of ``Authorization: Basic``; None without one."""
    encoded = _scheme(request, "basic")
    if encoded is None:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("Malformed Basic credentials") from None
    client_id, _, secret = decoded.partition(":")
    # RFC 6749 section 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def client_credentials(
    request: web.Request, form: Mapping[str, object]
) -> tuple[str | None, str | None]:
    """A client's ``(client_id, client_secret)``: Basic first, else the form's fields."""
    basic = basic_credentials(request)
    if basic is not None:
        return basic
    client_id, secret = form.get("client_id"), form.get("client_secret")
    return (
        client_id if isinstance(client_id, str) else None,
        secret if isinstance(secret, str) else None,
    )


def uses_authorization_header(request: web.Request) -> bool:
    """Whether the request sent an ``Authorization`` header (a 401 then names its scheme)."""
    return "Authorization" in request.headers
