"""What the authorization pages share: cookies, forms from this site, redirects back."""

from __future__ import annotations

import hmac
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from service.api.keys import SETTINGS
from service.domain.redirect_uris import csp_form_target

routes = web.RouteTableDef()

SESSION_COOKIE = "oauth_session"
# Set with the login form, sent back with it: a form posted from another site carries
# neither the cookie (SameSite) nor its value, so it cannot sign a victim in.
LOGIN_CSRF_COOKIE = "oauth_login"
# "/": /account/apps is signed in with the same session as /oauth/authorize.
COOKIE_PATH = "/"
STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "pages.css"
FORM_REFUSED = "This form has expired or did not come from this site: start again."


@routes.get("/oauth/static/pages.css")
async def stylesheet(request: web.Request) -> web.Response:
    """The pages' one stylesheet (the CSP allows no inline style or script)."""
    return web.Response(body=STYLESHEET.read_bytes(), content_type="text/css")


def secure_cookies(request: web.Request) -> bool:
    """Cookies are ``Secure`` when the service is reached over https."""
    return request.app[SETTINGS].issuer.startswith("https://")


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    """An ``HttpOnly``, ``SameSite=Lax`` cookie of the pages."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request),
        path=COOKIE_PATH,
    )


def same_site_form(request: web.Request, sent: object, expected: str | None) -> bool:
    """Whether a form came from this site: it carries the expected token.

    And the browser does not say it was posted from another site (``Sec-Fetch-Site``,
    which every current browser sends).
    """
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return False
    return (
        isinstance(sent, str)
        and expected is not None
        and hmac.compare_digest(sent.encode(), expected.encode())
    )


def redirect(location: str, params: dict[str, str | None]) -> web.HTTPFound:
    """A redirect to a validated URI with ``params`` added to its query."""
    query = urlencode({name: value for name, value in params.items() if value is not None})
    # Not urlsplit: it raises on a host that does not parse, and the URI is sent back
    # as registered anyway (redirect_target_problem has vetted it).
    separator = "&" if "?" in location else "?"
    found = web.HTTPFound(f"{location}{separator}{query}")
    found.headers["Cache-Control"] = "no-store"
    return found


def form_targets(redirect_uri: str) -> list[str]:
    """The CSP ``form-action`` sources beyond 'self' for a flow that ends at ``redirect_uri``.

    A browser checks every redirect that follows a form submission against the
    submitting page's ``form-action``: sign-in → authorize → the app is such a chain.
    """
    target = csp_form_target(redirect_uri)
    return [target] if target else []
