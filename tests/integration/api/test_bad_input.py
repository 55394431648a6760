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


@pytest.mark.parametrize("text", ["a\u0000b", "\ud800"])
async def test_unstorable_text_in_lookups_is_not_a_500(
    client: Client, admin: dict[str, str], text: str
) -> None:
    # Regression: found by the fuzz run (NUL in ?_id= reached PostgreSQL and gave a 500).
    response = await client.get("/api/v1/oauth-apps.get", params={"_id": text}, headers=admin)
    assert (response.status, (await response.json())["error"]) == (400, "OAuth app not found.")
    body = {"appId": text, "name": "n", "active": True, "redirectUri": "https://a.test"}
    for route in ("update", "delete", "rotateSecret"):
        response = await client.post(
            f"/api/v1/oauth-apps.{route}",
            json=body if route == "update" else {"appId": text},
            headers=admin,
        )
        assert response.status == 400
        assert (await response.json())["errorType"] == "error-application-not-found"
    response = await client.post("/api/v1/login", json={"user": text, "password": text})
    assert response.status == 401


async def test_hostile_requests_never_5xx_and_change_nothing(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    async def counts() -> tuple[int, int, int]:
        row = await db.fetchrow(
            "SELECT (SELECT count(*) FROM oauth_apps), (SELECT count(*) FROM outbox),"
            " (SELECT count(*) FROM login_tokens)"
        )
        return row[0], row[1], row[2]

    before = await counts()
    json_headers = admin | JSON
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", CREATE, {"data": b"x" * (5 * 1024 * 1024), "headers": json_headers}),
        (
            "POST",
            CREATE,
            {
                "data": b'{"name": "a", "name": " ", "active": true, "redirectUri": "https://a"}',
                "headers": json_headers,
            },
        ),
        (
            "POST",
            CREATE,
            {
                "data": b"name=a&name=b&active=true&redirectUri=https://a",
                "headers": admin | {"Content-Type": "application/x-www-form-urlencoded"},
            },
        ),
        (
            "POST",
            CREATE,
            {"data": b"<xml/>", "headers": admin | {"Content-Type": "application/xml"}},
        ),
        (
            "POST",
            CREATE,
            {
                "data": b"--b\r\n",
                "headers": admin | {"Content-Type": "multipart/form-data; boundary=b"},
            },
        ),
        (
            "POST",
            CREATE,
            {"data": '{"name": "caf\u00e9"}'.encode("latin-1"), "headers": json_headers},
        ),
        (
            "POST",
            CREATE,
            {
                "data": b'{"name": "\\ud83d", "active": 1, "redirectUri": "https://a"}',
                "headers": json_headers,
            },
        ),
        (
            "POST",
            CREATE,
            {
                "json": {"name": "x", "active": True, "redirectUri": "javascript:alert(1)#x"},
                "headers": admin,
            },
        ),
        (
            "POST",
            CREATE,
            {
                "json": {
                    "name": "'; DROP TABLE users;--",
                    "active": "1",
                    "redirectUri": "$(reboot)",
                },
                "headers": admin,
            },
        ),
        (
            "POST",
            CREATE,
            {
                "json": {"name": "x", "active": True, "redirectUri": "https://a", "__proto__": {}},
                "headers": admin,
            },
        ),
        ("PATCH", CREATE, {"json": {}, "headers": admin}),
        ("PUT", CREATE, {"json": {}, "headers": admin}),
        ("DELETE", "/api/v1/oauth-apps.delete", {"headers": admin}),
        ("GET", "/api/v1/../../etc/passwd", {}),
        ("GET", "/api/v1/oauth-apps.get%2F..%2F..%2Fetc", {"headers": admin}),
        ("POST", "/api/v1/oauth-apps.create%2F", {"json": {}, "headers": admin}),
        ("GET", "/api/v1/oauth-apps.list?count=1e9&offset=-1", {"headers": admin}),
        ("POST", "/api/v1/login", {"data": b"[" * 10000, "headers": JSON}),
        ("POST", "/api/v1/login", {"json": {"user": ["a"], "password": {"$ne": 1}}}),
    ]
    for method, path, kwargs in attempts:
        response = await client.request(method, path, **kwargs)
        assert 400 <= response.status < 500, (method, path, response.status)
        body = await response.json()
        assert body.get("success") is False or body.get("status") == "error", body
    assert await counts() == before


async def test_oversized_header_is_refused_by_the_parser(
    client: Client, admin: dict[str, str]
) -> None:
    response = await client.get("/api/v1/me", headers=admin | {"X-Padding": "a" * 100_000})
    assert response.status in (400, 431)
