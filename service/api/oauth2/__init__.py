"""The authorization server over HTTP.

``metadata`` (discovery), ``pages`` (authorize, login, consent), ``endpoints``
(token, revoke, introspect, userinfo) and ``registration`` (RFC 7592).
"""

from __future__ import annotations

from aiohttp import web

from service.api.oauth2 import endpoints, metadata, pages, registration

ROUTES: tuple[web.RouteTableDef, ...] = (
    metadata.routes,
    pages.routes,
    endpoints.routes,
    registration.routes,
)
