"""Rocket.Chat's header authentication and permission checks, as handler decorators."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from service.api.keys import AUTH_CACHE, DATABASE, RATE_LIMITER
from service.domain.accounts import BYPASS_RATE_LIMIT, Principal
from service.domain.errors import AuthenticationRequired, PermissionDenied, RateLimited
from service.usecases import accounts

AuthenticatedHandler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def credentials(request: web.Request) -> tuple[str, str]:
    """Return ``(X-User-Id, X-Auth-Token)``; 401 when either is missing."""
    user_id = request.headers.get("X-User-Id", "")
    token = request.headers.get("X-Auth-Token", "")
    if not user_id or not token:
        raise AuthenticationRequired()
    return user_id, token


def authenticated(permission: str | None = None) -> Callable[[AuthenticatedHandler], Handler]:
    """Require a logged-in caller (401) holding ``permission`` when one is given (403).

    Callers without ``api-bypass-rate-limit`` are rate limited per route (429).
    """

    def decorate(handler: AuthenticatedHandler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            user_id, token = credentials(request)
            principal = await accounts.authenticate(
                request.app[DATABASE], user_id, token, cache=request.app[AUTH_CACHE]
            )
            if principal is None:
                raise AuthenticationRequired()
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
