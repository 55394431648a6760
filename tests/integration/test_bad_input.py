"""Malformed requests get JSON errors of the SPEC's shapes, never a 500."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

Client = TestClient[Any, Any]
CREATE = "/api/v1/oauth-apps.create"
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"name": "a",}',
        b"\xff\xfe{}",
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a": NaN}',
        b"nul\x00l",
    ],
)
async def test_unparseable_json(
    client: Client, admin: dict[str, str], db: asyncpg.Connection, raw: bytes
) -> None:
    response = await client.post(CREATE, data=raw, headers=admin | JSON)
    assert response.status == 400
    body = await response.json()
    assert body["errorType"] == "invalid-params" and body["success"] is False
    assert "could not be parsed" in body["error"]
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 0


async def test_nested_json_that_parses_is_a_schema_error(
    client: Client, admin: dict[str, str]
) -> None:
    response = await client.post(CREATE, data=b"[" * 500 + b"]" * 500, headers=admin | JSON)
    assert (await response.json())["error"] == "must be object [invalid-params]"


async def test_body_over_one_mebibyte(client: Client, admin: dict[str, str]) -> None:
    raw = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'
    response = await client.post(CREATE, data=raw, headers=admin | JSON)
    assert response.status == 413
    assert (await response.json())["errorType"] == "invalid-params"


async def test_unknown_content_type(client: Client, admin: dict[str, str]) -> None:
    response = await client.post(
        CREATE, data=b"name=a", headers=admin | {"Content-Type": "text/plain"}
    )
    assert response.status == 415
    assert (await response.json())["errorType"] == "invalid-params"


async def test_nul_and_long_values(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    cases = [
        ({"name": "a\u0000b"}, "error-invalid-name"),
        ({"name": "n" * 201}, "error-invalid-name"),
        ({"redirectUri": "https://a.test/\u0000"}, "error-invalid-redirectUri"),
        ({"redirectUri": ",".join(["https://a.test"] * 11)}, "error-invalid-redirectUri"),
        ({"redirectUri": "https://a.test/" + "p" * 2000}, "error-invalid-redirectUri"),
    ]
    for change, error_type in cases:
        body = {"name": "a", "active": True, "redirectUri": "https://a.test"} | change
        response = await client.post(CREATE, json=body, headers=admin)
        assert response.status == 400
        assert (await response.json())["errorType"] == error_type
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 0


async def test_lone_surrogate_is_refused_not_a_500(client: Client, admin: dict[str, str]) -> None:
    raw = b'{"name": "\\ud800", "active": true, "redirectUri": "https://a.test"}'
    response = await client.post(CREATE, data=raw, headers=admin | JSON)
    assert response.status == 400
    assert (await response.json())["errorType"] == "error-invalid-name"


async def test_unknown_route_and_wrong_method(client: Client) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status == 404
    assert (await response.json())["errorType"] == "error-not-found"
    response = await client.put(CREATE)
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert (await response.json())["errorType"] == "error-method-not-allowed"


async def test_request_id_is_returned_and_reused(client: Client) -> None:
    response = await client.get("/health")
    generated = response.headers["X-Request-Id"]
    assert len(generated) == 32
    response = await client.get("/health", headers={"X-Request-Id": "trace-abc.123"})
    assert response.headers["X-Request-Id"] == "trace-abc.123"
    response = await client.get("/health", headers={"X-Request-Id": "bad id\twith spaces"})
    assert response.headers["X-Request-Id"] != "bad id\twith spaces"
