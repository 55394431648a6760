"""Reading request bodies as Rocket.Chat would see them: JSON or form-encoded."""

from __future__ import annotations

import asyncio
import json
from typing import NoReturn
from urllib.parse import parse_qsl

from aiohttp import hdrs, web

from service.api.errors import BodyTimeout, BodyTooLarge, UnsupportedMediaType
from service.api.keys import SETTINGS
from service.domain.errors import InvalidParams

MAX_BODY_BYTES = 1024 * 1024
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> object:
    """Parse like ``JSON.parse``: every number is a double, NaN/Infinity are refused.

    An empty body counts as ``{}`` and a UTF-8 byte order mark is skipped, as Express's
    body parser does for Rocket.Chat.
    """
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8-sig")
        return json.loads(text, parse_int=float, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        detail = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise InvalidParams(f"The request body could not be parsed as JSON: {detail}") from None


def parse_form(raw: bytes) -> dict[str, object]:
    """Parse a form body; a repeated field becomes a list, which no string schema accepts."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidParams(f"The request body could not be parsed as a form: {error}") from None
    form: dict[str, object] = {}
    for key, value in pairs:
        if key in form:
            previous = form[key]
            form[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            form[key] = value
    return form


async def read_form(request: web.Request) -> dict[str, object]:
    """Return a form-encoded body (what OAuth endpoints and HTML forms send)."""
    if request.content_type != FORM_TYPE:
        raise UnsupportedMediaType(f"Send {FORM_TYPE}")
    return parse_form(await _read_raw(request))


async def read_json(request: web.Request) -> object:
    """Return a JSON body (what RFC 7591 clients send); a missing content type counts as JSON."""
    if request.headers.get(hdrs.CONTENT_TYPE) and request.content_type != JSON_TYPE:
        raise UnsupportedMediaType(f"Send {JSON_TYPE}")
    return parse_json(await _read_raw(request))


async def _read_raw(request: web.Request) -> bytes:
    try:
        async with asyncio.timeout(request.app[SETTINGS].http_body_timeout):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise body_too_large() from None
    except TimeoutError:
        raise BodyTimeout("The request body did not arrive in time") from None


async def read_body(request: web.Request) -> object:
    """Return the parsed body; 413 over 1 MiB, 415 for content types other than JSON and form."""
    declared = request.headers.get(hdrs.CONTENT_TYPE)
    content_type = request.content_type if declared else JSON_TYPE
    if content_type not in (JSON_TYPE, FORM_TYPE):
        raise UnsupportedMediaType(
            f"Unsupported content type {content_type!r}: send {JSON_TYPE} or {FORM_TYPE}"
        )
    raw = await _read_raw(request)
    return parse_json(raw) if content_type == JSON_TYPE else parse_form(raw)


def body_too_large() -> BodyTooLarge:
    """Return the error of a body over the limit."""
    return BodyTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes")
