"""Checking real responses against the service's own OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

DOCUMENT: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "service" / "api" / "openapi.json").read_text()
)


def assert_documented(method: str, path: str, status: int, body: object) -> None:
    """Fail unless ``status`` is documented for the route and ``body`` fits its schema."""
    operation = DOCUMENT["paths"].get(path, {}).get(method.lower())
    if operation is None:  # unknown routes and methods answer with the Error shape
        assert status in (404, 405), (method, path, status)
        schema: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
    else:
        responses = operation["responses"]
        assert str(status) in responses, f"{method} {path} answered undocumented {status}: {body}"
        schema = responses[str(status)]["content"]["application/json"]["schema"]
    # The whole document is the root, so "#/components/..." references resolve.
    jsonschema.Draft202012Validator(DOCUMENT | schema).validate(body)
