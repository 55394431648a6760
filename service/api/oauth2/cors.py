"""CORS for what a single-page app calls: token, revoke, userinfo, the keys and discovery.

A route says who may read it with ``@cors``; ``add_preflights`` gives each such path
its ``OPTIONS``, and ``add_cors_headers`` puts the decision on every answer of it,
errors included (a page must read ``invalid_grant`` too). Credentials in the CORS
sense (cookies) are never allowed: a page sends its tokens in the request itself,
and the pages' session cookie must not reach these endpoints from another site.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum

from aiohttp import web

from service.api.errors import ErrorFamily, error_family
from service.api.keys import OAUTH2
from service.usecases.oauth2.origins import is_app_origin

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_POLICY_ATTRIBUTE = "_cors_policy"
_CORS_HEADERS = web.RequestKey("cors_headers", dict)
# What a page sends: a form or JSON, a Bearer token or Basic credentials.
ALLOWED_HEADERS = "Authorization, Content-Type"
# A browser keeps a preflight's answer this long (Chromium caps it at 2 hours).
PREFLIGHT_MAX_AGE = 600


class CorsPolicy(StrEnum):
    """Which pages may read a route's answers."""

    # Public documents (discovery, the JWKS): ``*``, which a browser never combines
    # with credentials, and one answer that shared caches keep for every origin.
    ANY_ORIGIN = "any origin"
    # The origins of active public clients' redirect URIs: what their pages run on.
    APP_ORIGINS = "app origins"


def cors(policy: CorsPolicy) -> Callable[[Handler], Handler]:
    """Let pages of ``policy``'s origins read the route's answers."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            request[_CORS_HEADERS] = await _headers(request, policy)
            return await handler(request)

        setattr(wrapper, _POLICY_ATTRIBUTE, policy)
        return wrapper

    return decorate


async def _headers(request: web.Request, policy: CorsPolicy) -> dict[str, str]:
    """The CORS headers of an answer to this request (RFC 6454 origins, Fetch's CORS)."""
    if policy is CorsPolicy.ANY_ORIGIN:
        return {"Access-Control-Allow-Origin": "*"}
    # The answer depends on Origin, so no cache may give one origin's to another.
    headers = {"Vary": "Origin"}
    origin = request.headers.get("Origin")
    if origin and await is_app_origin(request.app[OAUTH2], origin):
        headers["Access-Control-Allow-Origin"] = origin
        # A 401 says why in WWW-Authenticate (RFC 6750 section 3).
        headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
    return headers


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the decision of ``@cors`` on the answer, whatever it is."""
    if headers := request.get(_CORS_HEADERS):
        for name, value in headers.items():
            # Vary may already name other headers; the rest are ours alone.
            if name == "Vary":
                response.headers.add(name, value)
            else:
                response.headers[name] = value


def add_preflights(router: web.UrlDispatcher) -> None:
    """An ``OPTIONS`` route (the CORS preflight) for each path whose routes use ``@cors``."""
    allowed: dict[str, tuple[web.Resource, CorsPolicy, list[str]]] = {}
    for route in router.routes():
        policy = getattr(route.handler, _POLICY_ATTRIBUTE, None)
        if policy is None or not isinstance(route.resource, web.Resource) or route.method == "HEAD":
            continue
        path = route.resource.canonical
        allowed.setdefault(path, (route.resource, policy, []))[2].append(route.method)
    for resource, policy, methods in allowed.values():
        resource.add_route("OPTIONS", _preflight(policy, {"Allow": ", ".join(sorted(methods))}))


def _preflight(policy: CorsPolicy, allow: Mapping[str, str]) -> Handler:
    @error_family(ErrorFamily.OAUTH)
    async def preflight(request: web.Request) -> web.Response:
        """204; with the CORS headers when the page's origin may call this path."""
        headers = dict(allow) | await _headers(request, policy)
        if "Access-Control-Allow-Origin" in headers:
            headers |= {
                "Access-Control-Allow-Methods": allow["Allow"],
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
            }
        return web.Response(status=204, headers=headers)

    return preflight
