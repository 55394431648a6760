"""``/oauth/authorize`` and its pages: sign in, consent, and the redirect back to the app.

OpenID Connect's parameters are honoured here: ``prompt`` (``none`` answers without a
page, ``login``/``select_account`` ask for the password again, ``consent`` shows the
consent page even when remembered), ``max_age``, ``login_hint``, ``nonce``; ``POST``
works like ``GET`` (a form without a ``decision``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from service.api.bodies import read_form
from service.api.client_address import client_address
from service.api.errors import ErrorFamily, error_family
from service.api.keys import OAUTH2, PASSWORD_CHECKS, SETTINGS
from service.api.oauth2.browser import (
    FORM_REFUSED,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    form_targets,
    redirect,
    same_site_form,
    set_cookie,
)
from service.api.pages import image_sources, render_page
from service.domain.errors import LoginFailed, RateLimited
from service.domain.ids import random_secret
from service.domain.oauth2.authorization import (
    AuthorizationRequest,
    after_sign_in,
    check_authorization_request,
    openid_parameters,
)
from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import FormRefused, OAuthError
from service.domain.oauth2.resources import checked_resource
from service.domain.oauth2.scopes import SCOPES, requested_scope
from service.domain.redirect_uris import csp_form_target
from service.domain.timestamps import utc_now
from service.usecases.oauth2 import consent, sessions
from service.usecases.oauth2.client_authentication import client_for_authorize
from service.usecases.oauth2.sessions import SignedIn

routes = web.RouteTableDef()

# Everything that /oauth/authorize carries through the login and consent forms.
AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "resource",
)


def _authorize_params(source: Mapping[str, Any]) -> dict[str, str]:
    params = {name: source[name] for name in AUTHORIZE_FIELDS if source.get(name) is not None}
    # Refused, not carried: their presence alone is the error (openid_parameters).
    params |= {name: "" for name in ("request", "request_uri") if name in source}
    return {name: str(value) for name, value in params.items()}


def _answer(
    request: web.Request, checked: AuthorizationRequest, **params: str | None
) -> web.HTTPFound:
    """The authorization response, with ``iss`` (RFC 9207) and ``state``."""
    return redirect(
        checked.redirect_uri,
        params | {"state": checked.state, "iss": request.app[SETTINGS].issuer},
    )


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
        prompt, max_age = openid_parameters(params)
        scope = requested_scope(params.get("scope"), client.scopes)
        resource = checked_resource(params.get("resource"), request.app[SETTINGS].issuer)
    except OAuthError as error:
        raise _answer(
            request, checked, error=error.error, error_description=error.message
        ) from None
    return client, dataclasses.replace(
        checked,
        scope=scope,
        nonce=params.get("nonce"),
        prompt=prompt,
        max_age=max_age,
        login_hint=params.get("login_hint"),
        resource=resource,
    )


def _login_page(
    request: web.Request,
    client: Client,
    checked: AuthorizationRequest,
    params: dict[str, str],
    *,
    username: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    """The sign-in form, with the login CSRF token its cookie holds (kept across tabs)."""
    login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or random_secret()
    context = {
        "app_name": client.name,
        "next": urlencode(params),
        "username": checked.login_hint or "" if username is None else username,
        "error": error,
        "login_csrf": login_csrf,
    }
    response = render_page(
        request,
        "login.html",
        context,
        status=status,
        form_targets=form_targets(checked.redirect_uri),
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, login_csrf)
    return response


def _shown_host(uri: str) -> str:
    """What the consent page names as where the user goes."""
    target = csp_form_target(uri)
    return target.split("://", 1)[-1] if target else uri


async def _authorize(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    """Sign in if needed, then consent unless remembered, then the code."""
    client, checked = await _checked(request, params)
    services = request.app[OAUTH2]
    signed_in = await sessions.session_user(services, request.cookies.get(SESSION_COOKIE))
    if signed_in is None or checked.needs_password(signed_in.authenticated_at, utc_now()):
        if "none" in checked.prompt:
            raise _answer(
                request, checked, error="login_required", error_description="Sign-in is needed"
            )
        return _login_page(request, client, checked, params)
    remembered = await consent.has_live_grant(
        services, client, signed_in.principal.id, checked.scope
    )
    if remembered and "consent" not in checked.prompt:
        return await _approve(request, client, signed_in, checked)
    if "none" in checked.prompt:
        raise _answer(
            request, checked, error="consent_required", error_description="Consent is needed"
        )
    return render_page(
        request,
        "consent.html",
        {
            "app_name": client.name,
            "username": signed_in.principal.username,
            "redirect_host": _shown_host(checked.redirect_uri),
            "scopes": [scope.description for scope in SCOPES if scope.name in checked.scope],
            "csrf_token": signed_in.csrf_token,
            "fields": sorted(params.items()),
            "client": client,
        },
        form_targets=form_targets(checked.redirect_uri),
        image_sources=image_sources(client.logo_uri),
    )


async def _approve(
    request: web.Request, client: Client, signed_in: SignedIn, checked: AuthorizationRequest
) -> web.StreamResponse:
    code = await consent.approve(
        request.app[OAUTH2],
        client,
        signed_in.principal,
        checked,
        auth_time=signed_in.authenticated_at,
    )
    raise _answer(request, checked, code=code)


@routes.get("/oauth/authorize")
@error_family(ErrorFamily.PAGE)
async def authorize(request: web.Request) -> web.StreamResponse:
    """Ask the user to sign in, then to allow the app (not again once it is allowed)."""
    return await _authorize(request, _authorize_params(request.query))


@routes.post("/oauth/authorize")
@error_family(ErrorFamily.PAGE)
async def decide(request: web.Request) -> web.StreamResponse:
    """The consent form: Allow issues a code, Deny sends ``access_denied`` back.

    A form without a ``decision`` is an authorization request sent by POST (OpenID
    Connect Core 1.0 section 3.1.2.1), answered as ``GET`` is.
    """
    form = await read_form(request)
    params = _authorize_params(form)
    if "decision" not in form:
        return await _authorize(request, params)
    client, checked = await _checked(request, params)
    signed_in = await sessions.session_user(
        request.app[OAUTH2], request.cookies.get(SESSION_COOKIE)
    )
    if signed_in is None or not same_site_form(
        request, form.get("csrf_token"), signed_in.csrf_token
    ):
        raise FormRefused(FORM_REFUSED)
    if form.get("decision") != "allow":
        raise _answer(
            request,
            checked,
            error="access_denied",
            error_description="The user denied the request",
        )
    return await _approve(request, client, signed_in, checked)


@routes.post("/oauth/login")
@error_family(ErrorFamily.PAGE)
async def login(request: web.Request) -> web.StreamResponse:
    """The login form: the same checks and limits as ``/api/v1/login``, then a session."""
    form = await read_form(request)
    next_query = dict(parse_qsl(str(form.get("next", "")), keep_blank_values=True))
    params = _authorize_params(next_query)
    client, checked = await _checked(request, params)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    page = {"username": username}
    if not same_site_form(request, form.get("login_csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)):
        # Login CSRF: another site's form must not sign this browser in as anyone.
        message = "This sign-in form expired or came from another site: sign in again."
        return _login_page(request, client, checked, params, **page, error=message, status=403)
    address = client_address(request, request.app[SETTINGS].trusted_proxies)
    try:
        user_id = await request.app[PASSWORD_CHECKS].check(username, password, address)
    except RateLimited as limited:
        message = f"Too many failed attempts: wait {limited.retry_after} seconds."
        response = _login_page(request, client, checked, params, **page, error=message, status=429)
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    except LoginFailed:
        message = "Wrong username or password."
        return _login_page(request, client, checked, params, **page, error=message, status=401)
    cookie, _ = await sessions.start_session(
        request.app[OAUTH2], user_id, replacing=request.cookies.get(SESSION_COOKIE)
    )
    found = web.HTTPSeeOther(f"/oauth/authorize?{urlencode(after_sign_in(params))}")
    set_cookie(request, found, SESSION_COOKIE, cookie)
    found.headers["Cache-Control"] = "no-store"
    raise found
