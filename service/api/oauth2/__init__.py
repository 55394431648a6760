"""The authorization server over HTTP.

``metadata`` (discovery), ``authorize`` (sign-in and consent pages), ``logout``,
``endpoints`` (token, revoke, introspect, userinfo), ``registration`` (RFC 7592),
``jwks`` (the public signing keys), ``account`` (``/account/apps``: the apps a user
allowed), ``cors`` (which pages of other origins may read
the token endpoints' answers), and ``browser`` (what the pages share: cookies,
forms from this site, redirects back).
"""

from __future__ import annotations

from aiohttp import web

from service.api.oauth2 import (
    account,
    authorize,
    browser,
    endpoints,
    jwks,
    logout,
    metadata,
    registration,
)

ROUTES: tuple[web.RouteTableDef, ...] = (
    metadata.routes,
    browser.routes,
    authorize.routes,
    logout.routes,
    endpoints.routes,
    registration.routes,
    jwks.routes,
    account.routes,
)
