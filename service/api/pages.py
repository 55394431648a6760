"""Server-rendered pages: autoescaped templates, and the headers every page carries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aiohttp_jinja2
from aiohttp import web


def page_headers(response: web.StreamResponse, form_targets: Iterable[str] = ()) -> None:
    """No script at all, no framing, no caching; forms post to this site (and ``form_targets``)."""
    form_action = " ".join(("'self'", *form_targets))
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
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
) -> web.Response:
    """A page from ``api/templates/`` with ``page_headers``."""
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    page_headers(response, form_targets)
    return response


def error_page(request: web.Request, message: str, status: int) -> web.Response:
    """The page that says what went wrong, in words, with its status."""
    return render_page(request, "error.html", {"message": message}, status=status)
