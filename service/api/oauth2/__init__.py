"""The authorization server over HTTP.

``metadata`` (discovery), ``pages`` (authorize, login, consent) and ``endpoints``
(token, revoke, introspect, userinfo).
"""

from __future__ import annotations

from aiohttp import web

from service.api.oauth2 import endpoints, metadata, pages

ROUTES: tuple[web.RouteTableDef, ...] = (metadata.routes, pages.routes, endpoints.routes)
