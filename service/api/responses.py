"""JSON responses, serialised with orjson."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web


def json_response(
    body: Mapping[str, Any] | bool,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """Return ``body`` serialised with orjson, keys in insertion order."""
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )
