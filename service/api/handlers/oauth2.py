"""The OAuth 2 authorization server's routes: discovery, authorize, token, and the rest."""

from __future__ import annotations

import base64
import binascii
import hmac
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

import aiohttp_jinja2
from aiohttp import web

from service.api.auth import principal_from_headers
from service.api.bodies import read_form
from service.api.client_address import client_address
from service.api.keys import AUTH_CACHE, DATABASE, LOGIN_THROTTLE, SETTINGS, TOKEN_BATCHES
from service.api.responses import json_response
from service.domain.accounts import MANAGE_OAUTH_APPS, Principal
from service.domain.errors import AuthenticationRequired
from service.domain.oauth2 import (
    AuthorizationRequest,
    AuthorizeError,
    AuthorizeRefused,
    InvalidClient,
    OAuthError,
    check_authorization_request,
)
from service.metrics import OAUTH_INTROSPECTIONS, OAUTH_TOKEN_ERRORS, OAUTH_TOKENS_ISSUED
from service.persistence.oauth2 import Client
from service.usecases import accounts, oauth2

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
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@routes.get("/.well-known/oauth-authorization-server")
async def metadata(request: web.Request) -> web.Response:
    """RFC 8414 metadata, every URL built from ``PUBLIC_URL``."""
    issuer = request.app[SETTINGS].issuer
    return json_response(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "introspection_endpoint": f"{issuer}/oauth/introspect",
            "userinfo_endpoint": f"{issuer}/oauth/userinfo",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
        }
    )


@routes.get("/oauth/static/pages.css")
async def stylesheet(request: web.Request) -> web.Response:
    """The pages' one stylesheet (the CSP allows no inline style or script)."""
    return web.Response(body=STYLESHEET.read_bytes(), content_type="text/css")


def _page_headers(response: web.StreamResponse, form_target: str | None = None) -> None:
    """No script at all, no framing, no caching: what every page of the flow carries."""
    form_action = "'self'" + (f" {form_target}" if form_target else "")
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        f"frame-ancestors 'none'; form-action {form_action}"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"


def _page(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    form_target: str | None = None,
) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    _page_headers(response, form_target)
    return response


def _refused(request: web.Request, error: AuthorizeRefused) -> web.Response:
    """RFC 6749 section 4.1.2.1: never redirect to an unverified client or URI."""
    return _page(request, "error.html", {"message": error.message}, status=400)


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
    """The client, the redirect URI and the rest, checked in RFC 6749's order."""
    client, redirect_uri = await oauth2.client_for_authorize(
        request.app[DATABASE], params.get("client_id"), params.get("redirect_uri")
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
            pkce=request.app[SETTINGS].oauth_pkce,
        )
    except AuthorizeError as error:
        raise _redirect(
            redirect_uri,
            {"error": error.error, "error_description": error.message, "state": checked.state},
        ) from None
    return client, checked


def _authorize_params(source: Any) -> dict[str, str]:
    return {name: source[name] for name in AUTHORIZE_FIELDS if source.get(name) is not None}


@routes.get("/oauth/authorize")
async def authorize(request: web.Request) -> web.StreamResponse:
    """Ask the user to sign in, then to allow the app (not again once it is allowed)."""
    params = _authorize_params(request.query)
    try:
        client, checked = await _checked(request, params)
    except AuthorizeRefused as error:
        return _refused(request, error)
    session = await oauth2.session_user(request.app[DATABASE], request.cookies.get(SESSION_COOKIE))
    if session is None:
        return _page(
            request,
            "login.html",
            {"app_name": client.name, "next": urlencode(params), "username": "", "error": None},
        )
    principal, csrf = session
    if await oauth2.has_live_grant(request.app[DATABASE], client, principal.id):
        return await _approve(request, client, principal, checked)
    return _page(
        request,
        "consent.html",
        {
            "app_name": client.name,
            "username": principal.username,
            "redirect_host": urlsplit(checked.redirect_uri).netloc or checked.redirect_uri,
            "csrf_token": csrf,
            "fields": sorted(params.items()),
        },
        form_target=_origin(checked.redirect_uri),
    )


async def _approve(
    request: web.Request, client: Client, principal: Principal, checked: AuthorizationRequest
) -> web.StreamResponse:
    code = await oauth2.approve(request.app[DATABASE], client, principal, checked)
    raise _redirect(checked.redirect_uri, {"code": code, "state": checked.state})


@routes.post("/oauth/authorize")
async def decide(request: web.Request) -> web.StreamResponse:
    """The consent form: Allow issues a code, Deny sends ``access_denied`` back."""
    form = await read_form(request)
    params = _authorize_params(form)
    try:
        client, checked = await _checked(request, params)
    except AuthorizeRefused as error:
        return _refused(request, error)
    session = await oauth2.session_user(request.app[DATABASE], request.cookies.get(SESSION_COOKIE))
    sent = str(form.get("csrf_token", ""))
    if session is None or not hmac.compare_digest(sent.encode(), session[1].encode()):
        message = "This form has expired or did not come from this site: start again."
        return _page(request, "error.html", {"message": message}, status=403)
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
async def login(request: web.Request) -> web.StreamResponse:
    """The login form: the same rules and throttle as ``/api/v1/login``, then a session."""
    form = await read_form(request)
    params = {
        name: value
        for name, value in _query_pairs(str(form.get("next", ""))).items()
        if name in AUTHORIZE_FIELDS
    }
    try:
        client, _ = await _checked(request, params)
    except AuthorizeRefused as error:
        return _refused(request, error)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    throttle = request.app[LOGIN_THROTTLE]
    key = f"{username.casefold()} {client_address(request, request.app[SETTINGS].trusted_proxies)}"
    context = {"app_name": client.name, "next": urlencode(params), "username": username}
    if wait := throttle.retry_after(key):
        message = f"Too many failed attempts: wait {wait} seconds."
        response = _page(request, "login.html", context | {"error": message}, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    user_id = await accounts.verify_credentials(request.app[DATABASE], username, password)
    if user_id is None:
        throttle.record_failure(key)
        message = "Wrong username or password."
        return _page(request, "login.html", context | {"error": message}, status=401)
    throttle.reset(key)
    cookie, _ = await oauth2.start_session(request.app[DATABASE], user_id)
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


def _query_pairs(query: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name:
            pairs[unquote_plus(name)] = unquote_plus(value)
    return pairs


def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("Malformed Basic credentials") from None
    client_id, _, secret = decoded.partition(":")
    # RFC 6749 section 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def _oauth_error(error: OAuthError, *, basic: bool) -> web.Response:
    OAUTH_TOKEN_ERRORS.labels(error.error).inc()
    headers = dict(NO_STORE)
    if isinstance(error, InvalidClient) and basic:
        headers["WWW-Authenticate"] = 'Basic realm="oauth-apps"'
    body = {"error": error.error, "error_description": error.message}
    return json_response(body, error.status, headers)


async def _client(request: web.Request, form: dict[str, object]) -> Client:
    basic = _basic_credentials(request)
    cache = request.app[AUTH_CACHE]
    if basic is not None:
        return await oauth2.authenticate_client(request.app[DATABASE], *basic, cache=cache)
    client_id, secret = form.get("client_id"), form.get("client_secret")
    return await oauth2.authenticate_client(
        request.app[DATABASE],
        client_id if isinstance(client_id, str) else None,
        secret if isinstance(secret, str) else None,
        cache=cache,
    )


def _field(form: dict[str, object], name: str) -> str | None:
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise OAuthError("invalid_request", f"{name} was sent more than once")
    return value


def _uses_basic(request: web.Request) -> bool:
    return "authorization" in {name.lower() for name in request.headers}


async def _authenticated_form(request: web.Request) -> tuple[Client, dict[str, object]]:
    """The form of a client's request, and the client its credentials prove."""
    form = await read_form(request)
    return await _client(request, form), form


@routes.post("/oauth/token")
async def token(request: web.Request) -> web.Response:
    """RFC 6749 section 3.2: authorization_code (with PKCE) and refresh_token (rotated)."""
    try:
        client, form = await _authenticated_form(request)
        grant_type = _field(form, "grant_type")
        db = request.app[DATABASE]
        if grant_type == "authorization_code":
            issued = await oauth2.exchange_code(
                db,
                client,
                code=_field(form, "code"),
                redirect_uri=_field(form, "redirect_uri"),
                code_verifier=_field(form, "code_verifier"),
            )
        elif grant_type == "refresh_token":
            issued = await oauth2.refresh(
                db, request.app[TOKEN_BATCHES], client, _field(form, "refresh_token")
            )
        elif grant_type is None:
            raise OAuthError("invalid_request", "grant_type is required")
        else:
            raise OAuthError(
                "unsupported_grant_type", f"grant_type {grant_type!r} is not supported"
            )
    except OAuthError as error:
        return _oauth_error(error, basic=_uses_basic(request))
    OAUTH_TOKENS_ISSUED.labels(grant_type).inc()
    return json_response(issued.to_document(), headers=NO_STORE)


@routes.post("/oauth/revoke")
async def revoke(request: web.Request) -> web.Response:
    """RFC 7009: 200 for a revoked token and for an unknown one alike."""
    try:
        client, form = await _authenticated_form(request)
        await oauth2.revoke(request.app[DATABASE], client, _field(form, "token"))
    except OAuthError as error:
        return _oauth_error(error, basic=_uses_basic(request))
    return web.Response(status=200, headers=NO_STORE)


@routes.post("/oauth/introspect")
async def introspect(request: web.Request) -> web.Response:
    """RFC 7662: for the token's own client, or a user who manages OAuth apps."""
    basic = _basic_credentials(request) is not None
    try:
        form = await read_form(request)
        principal: Principal | None = None
        client: Client | None = None
        if request.headers.get("X-User-Id") and not basic:
            principal = await principal_from_headers(request)
            if not principal.can(MANAGE_OAUTH_APPS):
                raise InvalidClient("Introspection needs manage-oauth-apps or the client")
        else:
            client = await _client(request, form)
        answer = await oauth2.introspect(
            request.app[TOKEN_BATCHES], _field(form, "token"), client=client
        )
    except (OAuthError, AuthenticationRequired) as error:
        failure = error if isinstance(error, OAuthError) else InvalidClient()
        return _oauth_error(failure, basic=basic)
    OAUTH_INTROSPECTIONS.inc()
    return json_response(answer, headers=NO_STORE)


@routes.get("/oauth/userinfo")
async def userinfo(request: web.Request) -> web.Response:
    """The user of a Bearer access token."""
    header = request.headers.get("Authorization", "")
    found = None
    if header.lower().startswith("bearer "):
        found = await oauth2.bearer_user(request.app[DATABASE], header[7:].strip())
    if found is None:
        response = json_response(
            {"error": "invalid_token", "error_description": "A live access token is required"},
            401,
        )
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    principal, stored = found
    return json_response(
        {
            "sub": principal.id,
            "name": principal.username,
            "preferred_username": principal.username,
            # Rocket.Chat's misspelling, kept so that its integrations keep working.
            "preffered_username": principal.username,
            "email": stored.email,
            "email_verified": False,
        },
        headers=NO_STORE,
    )
