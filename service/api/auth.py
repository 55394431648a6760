"""Rocket.Chat's authentication and permission checks, as handler decorators.

A caller is named by ``X-User-Id`` + ``X-Auth-Token``, or, like Rocket.Chat, by an
OAuth access token (``Authorization: Bearer``, or ``?access_token=``, which the access
log never shows since it logs paths only).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from service.api.keys import AUTH_CACHE, DATABASE, RATE_LIMITER
from service.domain.accounts import BYPASS_RATE_LIMIT, Principal
from service.domain.errors import AuthenticationRequired, PermissionDenied, RateLimited
from service.usecases import accounts, oauth2

AuthenticatedHandler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def credentials(request: web.Request) -> tuple[str, str]:
    """Return ``(X-User-Id, X-Auth-Token)``; 401 when either is missing."""
    user_id = request.headers.get("X-User-Id", "")
    token = request.headers.get("X-Auth-Token", "")
    if not user_id or not token:
        raise AuthenticationRequired()
    return user_id, token


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.query.get("access_token") or None


async def principal_from_headers(request: web.Request) -> Principal:
    """The caller of the request; ``AuthenticationRequired`` when there is none."""
    cache = request.app[AUTH_CACHE]
    if not request.headers.get("X-User-Id") and (access_token := _bearer(request)):
        principal = await oauth2.bearer_principal(request.app[DATABASE], access_token, cache=cache)
    else:
        user_id, token = credentials(request)
        principal = await accounts.authenticate(request.app[DATABASE], user_id, token, cache=cache)
    if principal is None:
        raise AuthenticationRequired()
    return principal


def authenticated(permission: str | None = None) -> Callable[[AuthenticatedHandler], Handler]:
    """Require a logged-in caller (401) holding ``permission`` when one is given (403).

    Callers without ``api-bypass-rate-limit`` are rate limited per route (429).
    """

    def decorate(handler: AuthenticatedHandler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            principal = await principal_from_headers(request)
            if permission is not None and not principal.can(permission):
                raise PermissionDenied()
            if principal.can(BYPASS_RATE_LIMIT) or not request.app[RATE_LIMITER].calls:
                return await handler(request, principal)
            decision = request.app[RATE_LIMITER].hit(f"{request.path} {principal.id}")
            if not decision.allowed:
                raise RateLimited(decision.retry_after, decision.headers())
            response = await handler(request, principal)
            response.headers.update(decision.headers())
            return response

        return wrapper

    return decorate
