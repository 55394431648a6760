"""The authorization server over HTTP.

``metadata`` (discovery), ``pages`` (authorize, login, consent), ``endpoints``
(token, revoke, introspect, userinfo) and ``jwks`` (the public signing keys).
"""

from __future__ import annotations

from aiohttp import web

from service.api.oauth2 import endpoints, jwks, metadata, pages

ROUTES: tuple[web.RouteTableDef, ...] = (
    metadata.routes,
    pages.routes,
    endpoints.routes,
    jwks.routes,
)
