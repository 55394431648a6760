"""``/account/apps``: the apps a signed-in user allowed, each with a button to revoke it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from service.api.bodies import read_form
from service.api.errors import ErrorFamily, error_family
from service.api.keys import OAUTH2
from service.api.oauth2.browser import FORM_REFUSED, SESSION_COOKIE, same_site_form
from service.api.pages import image_sources, render_page
from service.domain.oauth2.errors import FormRefused
from service.domain.oauth2.grants import ConnectedApp
from service.domain.oauth2.scopes import SCOPES
from service.usecases.oauth2 import connected_apps, sessions

routes = web.RouteTableDef()


def _when(moment: datetime | None) -> str | None:
    """A moment as the page shows it, in words a person reads (UTC, to the minute)."""
    return None if moment is None else moment.strftime("%d %B %Y, %H:%M UTC").lstrip("0")


def _shown(app: ConnectedApp) -> dict[str, Any]:
    return {
        "grant_id": app.grant.id,
        "name": app.name,
        "logo_uri": app.logo_uri,
        "scopes": [scope.description for scope in SCOPES if scope.name in app.grant.scope],
        "granted": _when(app.grant.created_at),
        "last_used": _when(app.last_used),
    }


@routes.get("/account/apps")
@error_family(ErrorFamily.PAGE)
async def apps_page(request: web.Request) -> web.Response:
    """The signed-in user's connected apps; without a session, a page that says how to sign in."""
    services = request.app[OAUTH2]
    signed_in = await sessions.session_user(services, request.cookies.get(SESSION_COOKIE))
    if signed_in is None:
        return render_page(request, "account_signed_out.html", {})
    apps = await connected_apps.connected_apps(services, signed_in.principal.id)
    return render_page(
        request,
        "account_apps.html",
        {
            "username": signed_in.principal.username,
            "csrf_token": signed_in.csrf_token,
            "apps": [_shown(app) for app in apps],
        },
        image_sources=image_sources(*(app.logo_uri for app in apps)),
    )


@routes.post("/account/apps/revoke")
@error_family(ErrorFamily.PAGE)
async def revoke(request: web.Request) -> web.StreamResponse:
    """Revoke one of the user's grants, then back to the list (a reload does not post again)."""
    form = await read_form(request)
    services = request.app[OAUTH2]
    signed_in = await sessions.session_user(services, request.cookies.get(SESSION_COOKIE))
    if signed_in is None or not same_site_form(
        request, form.get("csrf_token"), signed_in.csrf_token
    ):
        raise FormRefused(FORM_REFUSED)
    grant_id = form.get("grant_id")
    if isinstance(grant_id, str):
        await connected_apps.disconnect(services, signed_in.principal, grant_id)
    found = web.HTTPSeeOther("/account/apps")
    found.headers["Cache-Control"] = "no-store"
    raise found
