"""Rocket.Chat's authentication and permission checks, as handler decorators.

A caller is named by ``X-User-Id`` + ``X-Auth-Token``, or, like Rocket.Chat, by an
OAuth access token (``Authorization: Bearer``, or ``?access_token=``, which the access
log never shows since it logs paths only).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from service.api.credentials import bearer_token, login_token
from service.api.keys import AUTH_CACHE, DATABASE, OAUTH2, RATE_LIMITER
from service.domain.accounts import BYPASS_RATE_LIMIT, Principal
from service.domain.errors import AuthenticationRequired, PermissionDenied, RateLimited
from service.usecases import accounts
from service.usecases.oauth2.bearer import bearer_principal

AuthenticatedHandler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def principal_from_headers(request: web.Request) -> Principal:
    """The caller of the request; ``AuthenticationRequired`` when there is none."""
    if not request.headers.get("X-User-Id") and (
        access_token := bearer_token(request, from_query=True)
    ):
        principal = await bearer_principal(request.app[OAUTH2], access_token)
    else:
        user_id, token = login_token(request)
        principal = await accounts.authenticate(
            request.app[DATABASE], user_id, token, cache=request.app[AUTH_CACHE]
        )
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
