"""RP-Initiated Logout 1.0: ``/oauth/logout`` ends the page session of this browser."""

from __future__ import annotations

from aiohttp import web

from service.api.bodies import read_form
from service.api.errors import ErrorFamily, error_family
from service.api.keys import OAUTH2, SETTINGS
from service.api.oauth2.browser import (
    COOKIE_PATH,
    FORM_REFUSED,
    SESSION_COOKIE,
    redirect,
    same_site_form,
)
from service.api.pages import render_page
from service.domain.oauth2.errors import FormRefused
from service.usecases.oauth2 import sessions
from service.usecases.oauth2.sessions import SignedIn

routes = web.RouteTableDef()

# What /oauth/logout carries through its confirmation form.
LOGOUT_FIELDS = ("client_id", "post_logout_redirect_uri", "state")


def _hinted(
    request: web.Request, params: dict[str, str], hint: object, signed_in: SignedIn | None
) -> bool:
    """Whether ``id_token_hint`` is our ID token (expired or not) for this client and user.

    Then the relying party asked, and the user need not confirm. Another user's token
    proves nothing about this browser's session (anyone can get one of their own).
    Its ``aud`` names the client when ``client_id`` was not sent.
    """
    if not isinstance(hint, str) or not hint:
        return False
    claims = request.app[OAUTH2].keys.verify(hint)
    if claims is None or claims.get("iss") != request.app[SETTINGS].issuer:
        return False
    if signed_in is not None and claims.get("sub") != signed_in.principal.id:
        return False
    audience = str(claims.get("aud"))
    params.setdefault("client_id", audience)
    return params["client_id"] == audience


async def _sign_out(
    request: web.Request, cookie: str | None, params: dict[str, str]
) -> web.StreamResponse:
    if cookie is not None:
        await sessions.end_session(request.app[OAUTH2], cookie)
    response = await _after_logout(request, params)
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


async def _after_logout(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    """Back to the app when it registered the address, else the "signed out" page."""
    client_id, uri = params.get("client_id"), params.get("post_logout_redirect_uri")
    if client_id and uri and client_id.isprintable():
        client = await request.app[OAUTH2].store.find_client(client_id)
        if client is not None and client.active and uri in client.post_logout_redirect_uris:
            raise redirect(uri, {"state": params.get("state")})
    return render_page(request, "signed_out.html", {})


@routes.get("/oauth/logout")
@error_family(ErrorFamily.PAGE)
async def logout_page(request: web.Request) -> web.StreamResponse:
    """Ask a signed-in user to confirm (a bare link must not sign anyone out).

    With an ``id_token_hint`` we issued, the relying party asked: no question.
    """
    params = {name: request.query[name] for name in LOGOUT_FIELDS if name in request.query}
    cookie = request.cookies.get(SESSION_COOKIE)
    signed_in = await sessions.session_user(request.app[OAUTH2], cookie)
    if _hinted(request, params, request.query.get("id_token_hint"), signed_in):
        return await _sign_out(request, cookie, params)
    if signed_in is None:
        return await _after_logout(request, params)
    context = {
        "username": signed_in.principal.username,
        "csrf_token": signed_in.csrf_token,
        "fields": sorted(params.items()),
    }
    return render_page(request, "logout.html", context)


@routes.post("/oauth/logout")
@error_family(ErrorFamily.PAGE)
async def logout(request: web.Request) -> web.StreamResponse:
    """End the page session of this browser."""
    form = await read_form(request)
    params = {name: value for name in LOGOUT_FIELDS if isinstance(value := form.get(name), str)}
    cookie = request.cookies.get(SESSION_COOKIE)
    signed_in = await sessions.session_user(request.app[OAUTH2], cookie)
    if (
        signed_in is not None
        and not _hinted(request, params, form.get("id_token_hint"), signed_in)
        and not same_site_form(request, form.get("csrf_token"), signed_in.csrf_token)
    ):
        raise FormRefused(FORM_REFUSED)
    return await _sign_out(request, cookie if signed_in is not None else None, params)
