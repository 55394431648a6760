"""Server-rendered pages: autoescaped templates, and the headers every page carries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from service.domain.redirect_uris import csp_origin


def page_headers(
    response: web.StreamResponse,
    form_targets: Iterable[str] = (),
    image_sources: Iterable[str] = (),
) -> None:
    """No script at all, no framing, no caching; forms post to this site (and ``form_targets``).

    Images come from this site and ``image_sources`` (validated origins only).
    """
    form_action = " ".join(("'self'", *form_targets))
    img_src = " ".join(("'self'", *image_sources))
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'self'; img-src {img_src}; base-uri 'none'; "
        f"frame-ancestors 'none'; form-action {form_action}"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"


def render_page(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    form_targets: Iterable[str] = (),
    image_sources: Iterable[str] = (),
) -> web.Response:
    """A page from ``api/templates/`` with ``page_headers``."""
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    page_headers(response, form_targets, image_sources)
    return response


def image_sources(*uris: str | None) -> list[str]:
    """The CSP ``img-src`` sources that show these images: their origins, when they parse."""
    return [origin for uri in uris if uri and (origin := csp_origin(uri))]


def error_page(request: web.Request, message: str, status: int) -> web.Response:
    """The page that says what went wrong, in words, with its status."""
    return render_page(request, "error.html", {"message": message}, status=status)
