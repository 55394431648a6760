"""The pages of ``/oauth/authorize``: sign in, consent, and the redirect back to the app."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from service.api.bodies import read_form
from service.api.client_address import client_address
from service.api.errors import ErrorFamily, error_family
from service.api.keys import OAUTH2, PASSWORD_CHECKS, SETTINGS
from service.api.pages import image_sources, render_page
from service.domain.accounts import Principal
from service.domain.errors import LoginFailed, RateLimited
from service.domain.ids import random_secret
from service.domain.oauth2.authorization import AuthorizationRequest, check_authorization_request
from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import AuthorizeError, FormRefused
from service.domain.redirect_uris import csp_form_target
from service.usecases.oauth2 import consent, sessions
from service.usecases.oauth2.client_authentication import client_for_authorize

routes = web.RouteTableDef()

SESSION_COOKIE = "oauth_session"
# Set with the login form, sent back with it: a form posted from another site carries
# neither the cookie (SameSite) nor its value, so it cannot sign a victim in.
LOGIN_CSRF_COOKIE = "oauth_login"
COOKIE_PATH = "/oauth"
STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "pages.css"
# Everything that /oauth/authorize carries through the login and consent forms.
AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
)


@routes.get("/oauth/static/pages.css")
async def stylesheet(request: web.Request) -> web.Response:
    """The pages' one stylesheet (the CSP allows no inline style or script)."""
    return web.Response(body=STYLESHEET.read_bytes(), content_type="text/css")


def _redirect(location: str, params: dict[str, str | None]) -> web.HTTPFound:
    query = urlencode({name: value for name, value in params.items() if value is not None})
    # Not urlsplit: it raises on a host that does not parse (an app stored under
    # REDIRECT_URI_POLICY=none), and the URI is sent back as registered anyway.
    separator = "&" if "?" in location else "?"
    found = web.HTTPFound(f"{location}{separator}{query}")
    found.headers["Cache-Control"] = "no-store"
    return found


def _form_targets(redirect_uri: str) -> list[str]:
    """The CSP ``form-action`` sources beyond 'self' for a flow that ends at ``redirect_uri``.

    A browser checks every redirect that follows a form submission against the
    submitting page's ``form-action``: sign-in → authorize → the app is such a chain.
    """
    target = csp_form_target(redirect_uri)
    return [target] if target else []


def _shown_host(uri: str) -> str:
    """What the consent page names as where the user goes."""
    target = csp_form_target(uri)
    return target.split("://", 1)[-1] if target else uri


async def _checked(
    request: web.Request, params: dict[str, str]
) -> tuple[Client, AuthorizationRequest]:
    """The client, the redirect URI and the rest, checked in RFC 6749's order.

    An untrusted client or redirect URI is an error page (``AuthorizeRefused``);
    anything else goes back to the app's redirect URI.
    """
    services = request.app[OAUTH2]
    client, redirect_uri = await client_for_authorize(
        services, params.get("client_id"), params.get("redirect_uri")
    )
    checked = AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        redirect_uri_sent="redirect_uri" in params,
        state=params.get("state"),
        code_challenge=params.get("code_challenge"),
    )
    try:
        check_authorization_request(
            response_type=params.get("response_type"),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
            pkce_required=client.pkce_required(services.pkce),
        )
    except AuthorizeError as error:
        raise _redirect(
            redirect_uri,
            {"error": error.error, "error_description": error.message, "state": checked.state},
        ) from None
    return client, checked


def _authorize_params(source: Any) -> dict[str, str]:
    return {name: source[name] for name in AUTHORIZE_FIELDS if source.get(name) is not None}


def _secure(request: web.Request) -> bool:
    return request.app[SETTINGS].issuer.startswith("https://")


def _login_page(
    request: web.Request,
    client: Client,
    checked: AuthorizationRequest,
    params: dict[str, str],
    *,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    """The sign-in form, with the login CSRF token its cookie holds (kept across tabs)."""
    login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or random_secret()
    context = {
        "app_name": client.name,
        "next": urlencode(params),
        "username": username,
        "error": error,
        "login_csrf": login_csrf,
    }
    response = render_page(
        request,
        "login.html",
        context,
        status=status,
        form_targets=_form_targets(checked.redirect_uri),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        login_csrf,
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
        path=COOKIE_PATH,
    )
    return response


def _same_site_form(request: web.Request, sent: object, expected: str | None) -> bool:
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


@routes.get("/oauth/authorize")
@error_family(ErrorFamily.PAGE)
async def authorize(request: web.Request) -> web.StreamResponse:
    """Ask the user to sign in, then to allow the app (not again once it is allowed)."""
    params = _authorize_params(request.query)
    client, checked = await _checked(request, params)
    services = request.app[OAUTH2]
    session = await sessions.session_user(services, request.cookies.get(SESSION_COOKIE))
    if session is None:
        return _login_page(request, client, checked, params)
    principal, csrf = session
    if await consent.has_live_grant(services, client, principal.id):
        return await _approve(request, client, principal, checked)
    return render_page(
        request,
        "consent.html",
        {
            "app_name": client.name,
            "username": principal.username,
            "redirect_host": _shown_host(checked.redirect_uri),
            "csrf_token": csrf,
            "fields": sorted(params.items()),
            "client": client,
        },
        form_targets=_form_targets(checked.redirect_uri),
        image_sources=image_sources(client.logo_uri),
    )


async def _approve(
    request: web.Request, client: Client, principal: Principal, checked: AuthorizationRequest
) -> web.StreamResponse:
    code = await consent.approve(request.app[OAUTH2], client, principal, checked)
    raise _redirect(checked.redirect_uri, {"code": code, "state": checked.state})


@routes.post("/oauth/authorize")
@error_family(ErrorFamily.PAGE)
async def decide(request: web.Request) -> web.StreamResponse:
    """The consent form: Allow issues a code, Deny sends ``access_denied`` back."""
    form = await read_form(request)
    params = _authorize_params(form)
    client, checked = await _checked(request, params)
    services = request.app[OAUTH2]
    session = await sessions.session_user(services, request.cookies.get(SESSION_COOKIE))
    if session is None or not _same_site_form(request, form.get("csrf_token"), session[1]):
        raise FormRefused("This form has expired or did not come from this site: start again.")
    if form.get("decision") != "allow":
        raise _redirect(
            checked.redirect_uri,
            {
                "error": "access_denied",
                "error_description": "The user denied the request",
                "state": checked.state,
            },
        )
    return await _approve(request, client, session[0], checked)


@routes.post("/oauth/login")
@error_family(ErrorFamily.PAGE)
async def login(request: web.Request) -> web.StreamResponse:
    """The login form: the same checks and limits as ``/api/v1/login``, then a session."""
    form = await read_form(request)
    next_query = dict(parse_qsl(str(form.get("next", "")), keep_blank_values=True))
    params = {name: value for name, value in next_query.items() if name in AUTHORIZE_FIELDS}
    client, checked = await _checked(request, params)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    if not _same_site_form(request, form.get("login_csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)):
        # Login CSRF: another site's form must not sign this browser in as anyone.
        message = "This sign-in form expired or came from another site: sign in again."
        return _login_page(
            request, client, checked, params, username=username, error=message, status=403
        )
    address = client_address(request, request.app[SETTINGS].trusted_proxies)
    try:
        user_id = await request.app[PASSWORD_CHECKS].check(username, password, address)
    except RateLimited as limited:
        message = f"Too many failed attempts: wait {limited.retry_after} seconds."
        response = _login_page(
            request, client, checked, params, username=username, error=message, status=429
        )
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    except LoginFailed:
        message = "Wrong username or password."
        return _login_page(
            request, client, checked, params, username=username, error=message, status=401
        )
    cookie, _ = await sessions.start_session(
        request.app[OAUTH2], user_id, replacing=request.cookies.get(SESSION_COOKIE)
    )
    found = web.HTTPSeeOther(f"/oauth/authorize?{urlencode(params)}")
    found.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
        path=COOKIE_PATH,
    )
    found.headers["Cache-Control"] = "no-store"
    raise found


# What /oauth/logout carries through its confirmation form (RP-Initiated Logout 1.0).
LOGOUT_FIELDS = ("client_id", "post_logout_redirect_uri", "state")


async def _after_logout(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    """Back to the app when it registered the address, else the "signed out" page."""
    client_id, uri = params.get("client_id"), params.get("post_logout_redirect_uri")
    if client_id and uri and client_id.isprintable():
        client = await request.app[OAUTH2].store.find_client(client_id)
        if client is not None and client.active and uri in client.post_logout_redirect_uris:
            raise _redirect(uri, {"state": params.get("state")})
    return render_page(request, "signed_out.html", {})


@routes.get("/oauth/logout")
@error_family(ErrorFamily.PAGE)
async def logout_page(request: web.Request) -> web.StreamResponse:
    """Ask a signed-in user to confirm signing out (a link alone must not sign anyone out)."""
    params = {name: request.query[name] for name in LOGOUT_FIELDS if name in request.query}
    session = await sessions.session_user(request.app[OAUTH2], request.cookies.get(SESSION_COOKIE))
    if session is None:
        return await _after_logout(request, params)
    principal, csrf = session
    context = {"username": principal.username, "csrf_token": csrf, "fields": sorted(params.items())}
    return render_page(request, "logout.html", context)


@routes.post("/oauth/logout")
@error_family(ErrorFamily.PAGE)
async def logout(request: web.Request) -> web.StreamResponse:
    """End the page session of this browser."""
    form = await read_form(request)
    params = {name: value for name in LOGOUT_FIELDS if isinstance(value := form.get(name), str)}
    cookie = request.cookies.get(SESSION_COOKIE)
    session = await sessions.session_user(request.app[OAUTH2], cookie)
    if session is not None:
        if not _same_site_form(request, form.get("csrf_token"), session[1]):
            raise FormRefused("This form has expired or did not come from this site: start again.")
        assert cookie is not None
        await sessions.end_session(request.app[OAUTH2], cookie)
    response = await _after_logout(request, params)
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
