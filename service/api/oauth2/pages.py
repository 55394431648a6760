"""The pages of ``/oauth/authorize``: sign in, consent, and the redirect back to the app."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import web

from service.api.bodies import read_form
from service.api.client_address import client_address
from service.api.errors import ErrorFamily, error_family
from service.api.keys import OAUTH2, PASSWORD_CHECKS, SETTINGS
from service.api.pages import render_page
from service.domain.accounts import Principal
from service.domain.errors import LoginFailed, RateLimited
from service.domain.oauth2.authorization import AuthorizationRequest, check_authorization_request
from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import AuthorizeError, FormRefused
from service.usecases.oauth2 import consent, sessions
from service.usecases.oauth2.client_authentication import client_for_authorize

routes = web.RouteTableDef()

SESSION_COOKIE = "oauth_session"
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
    separator = "&" if urlsplit(location).query else "?"
    found = web.HTTPFound(f"{location}{separator}{query}")
    found.headers["Cache-Control"] = "no-store"
    return found


def _origin(uri: str) -> str | None:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


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


def _login_page(
    request: web.Request,
    client: Client,
    params: dict[str, str],
    *,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    context = {"app_name": client.name, "next": urlencode(params), "username": username}
    return render_page(request, "login.html", context | {"error": error}, status=status)


@routes.get("/oauth/authorize")
@error_family(ErrorFamily.PAGE)
async def authorize(request: web.Request) -> web.StreamResponse:
    """Ask the user to sign in, then to allow the app (not again once it is allowed)."""
    params = _authorize_params(request.query)
    client, checked = await _checked(request, params)
    services = request.app[OAUTH2]
    session = await sessions.session_user(services, request.cookies.get(SESSION_COOKIE))
    if session is None:
        return _login_page(request, client, params)
    principal, csrf = session
    if await consent.has_live_grant(services, client, principal.id):
        return await _approve(request, client, principal, checked)
    target = _origin(checked.redirect_uri)
    return render_page(
        request,
        "consent.html",
        {
            "app_name": client.name,
            "username": principal.username,
            "redirect_host": urlsplit(checked.redirect_uri).netloc or checked.redirect_uri,
            "csrf_token": csrf,
            "fields": sorted(params.items()),
        },
        form_targets=[target] if target else [],
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
    sent = str(form.get("csrf_token", ""))
    if session is None or not hmac.compare_digest(sent.encode(), session[1].encode()):
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
    client, _ = await _checked(request, params)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    address = client_address(request, request.app[SETTINGS].trusted_proxies)
    try:
        user_id = await request.app[PASSWORD_CHECKS].check(username, password, address)
    except RateLimited as limited:
        message = f"Too many failed attempts: wait {limited.retry_after} seconds."
        response = _login_page(
            request, client, params, username=username, error=message, status=429
        )
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    except LoginFailed:
        message = "Wrong username or password."
        return _login_page(request, client, params, username=username, error=message, status=401)
    cookie, _ = await sessions.start_session(request.app[OAUTH2], user_id)
    found = web.HTTPSeeOther(f"/oauth/authorize?{urlencode(params)}")
    found.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="Lax",
        secure=request.app[SETTINGS].issuer.startswith("https://"),
        path="/oauth",
    )
    found.headers["Cache-Control"] = "no-store"
    raise found
