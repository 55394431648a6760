"""POST /api/v1/oauth-apps.create over real HTTP against the real database."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp.test_utils import TestClient

from service.logs import JsonFormatter
from tests.conftest import reuse_event_id

CREATE = "/api/v1/oauth-apps.create"
EXAMPLE = {"name": "test-oauth-app", "redirectUri": "https://testuri.com", "active": True}
UNAUTHORIZED = {
    "success": False,
    "error": "You must be logged in to do this.",
    "status": "error",
    "message": "You must be logged in to do this.",
}
FORBIDDEN = {
    "success": False,
    "error": "User does not have the permissions required for this action [error-unauthorized]",
}
Client = TestClient[Any, Any]


async def test_founding_example_200(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    response = await client.post(CREATE, json=EXAMPLE, headers=admin)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    app = body["application"]
    assert list(body) == ["application", "success"] and body["success"] is True
    assert list(app) == [
        "name",
        "redirectUri",
        "active",
        "clientId",
        "clientSecret",
        "_createdAt",
        "_updatedAt",
        "_createdBy",
        "_id",
    ]
    assert (app["name"], app["redirectUri"], app["active"]) == (
        "test-oauth-app",
        "https://testuri.com",
        True,
    )
    assert re.fullmatch(
        r"[23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz]{17}", app["clientId"]
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", app["clientSecret"])
    assert re.fullmatch(r"[0-9a-f]{24}", app["_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", app["_createdAt"])
    assert app["_createdAt"] == app["_updatedAt"]
    created = datetime.strptime(app["_createdAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - created) < timedelta(seconds=30)
    assert abs(int(app["_id"][:8], 16) - created.timestamp()) < 2
    assert app["_createdBy"] == {"_id": admin["X-User-Id"], "username": "math.bar"}

    row = await db.fetchrow("SELECT * FROM oauth_apps WHERE id = $1", app["_id"])
    assert row is not None and row["client_id"] == app["clientId"]
    # The secret is stored only as base64(SHA-256(secret)).
    assert row["client_secret_hash"] != app["clientSecret"]
    digest = base64.b64encode(hashlib.sha256(app["clientSecret"].encode()).digest()).decode()
    assert row["client_secret_hash"] == digest


async def test_app_and_event_are_committed_together(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = (await (await client.post(CREATE, json=EXAMPLE, headers=admin)).json())["application"]
    events = await db.fetch("SELECT * FROM outbox WHERE aggregate_id = $1", app["_id"])
    assert len(events) == 1
    event = events[0]
    document = orjson.loads(event["payload"])
    assert event["event_type"] == "oauth_app.created" and event["published_at"] is None
    assert document["id"] == str(event["event_id"])
    assert document["type"] == "oauth_app.created" and document["subject"] == app["_id"]
    assert document["specversion"] == "1.0" and document["source"] == "/oauth-apps"
    assert document["datacontenttype"] == "application/json"
    expected_app = {k: v for k, v in app.items() if k != "clientSecret"}
    assert document["data"] == {"application": expected_app, "actor": app["_createdBy"]}
    assert app["clientSecret"] not in event["payload"]


async def test_failed_transaction_leaves_neither_app_nor_event(
    client: Client,
    admin: dict[str, str],
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await client.post(CREATE, json=EXAMPLE, headers=admin)
    reuse_event_id(monkeypatch, await db.fetchval("SELECT event_id FROM outbox"))
    response = await client.post(CREATE, json=EXAMPLE | {"name": "doomed"}, headers=admin)
    assert response.status == 500
    # The failing statement is logged without its parameters (names, secret hashes).
    logged = [JsonFormatter().format(r) + logging.Formatter().format(r) for r in caplog.records]
    assert any("IntegrityError" in line for line in logged)
    assert not any("doomed" in line or "parameters:" in line for line in logged)
    assert (await response.json())["success"] is False
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 1
    assert await db.fetchval("SELECT count(*) FROM oauth_apps WHERE name = 'doomed'") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox") == 1


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"redirectUri": "https://testuri.com", "active": True}, "name"),
        ({"name": "test-oauth-app", "redirectUri": "https://testuri.com"}, "active"),
        ({"name": "test-oauth-app", "active": True}, "redirectUri"),
    ],
)
async def test_founding_examples_400(
    client: Client, admin: dict[str, str], body: dict[str, object], missing: str
) -> None:
    response = await client.post(CREATE, json=body, headers=admin)
    assert response.status == 400
    assert await response.json() == {
        "success": False,
        "error": f"must have required property '{missing}' [invalid-params]",
        "errorType": "invalid-params",
    }


async def _bad_token_headers(db: asyncpg.Connection, admin: dict[str, str]) -> list[dict[str, str]]:
    user_id, token = admin["X-User-Id"], admin["X-Auth-Token"]
    return [
        {},
        {"X-User-Id": user_id},
        {"X-Auth-Token": token},
        {"X-User-Id": user_id, "X-Auth-Token": token + "x"},
        {"X-User-Id": "unknownUser000000", "X-Auth-Token": token},
        {"X-User-Id": "", "X-Auth-Token": ""},
    ]


async def test_401_for_each_way_to_be_unauthenticated(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    for headers in await _bad_token_headers(db, admin):
        response = await client.post(CREATE, data=b"not even json", headers=headers)
        assert response.status == 401, headers
        assert await response.json() == UNAUTHORIZED


async def test_401_for_expired_and_logged_out_tokens(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    login = await client.post(
        "/api/v1/login", json={"username": "math.bar", "password": "correct horse"}
    )
    data = (await login.json())["data"]
    headers = {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}
    assert (await client.post(CREATE, json=EXAMPLE, headers=headers)).status == 200

    await db.execute(
        "UPDATE login_tokens SET expires_at = now() - interval '1 second' WHERE kind = 'login'"
    )
    # A change made outside this process reaches its token cache as a notification.
    deadline = asyncio.get_running_loop().time() + 2
    while (response := await client.get("/api/v1/me", headers=headers)).status == 200:
        assert asyncio.get_running_loop().time() < deadline, "expired token still accepted"
        await asyncio.sleep(0.01)
    response = await client.post(CREATE, json=EXAMPLE, headers=headers)
    assert (response.status, await response.json()) == (401, UNAUTHORIZED)

    await client.post("/api/v1/logout", headers=admin)
    response = await client.post(CREATE, json=EXAMPLE, headers=admin)
    assert (response.status, await response.json()) == (401, UNAUTHORIZED)


async def test_401_for_another_users_token(
    client: Client, admin: dict[str, str], plain_user: dict[str, str]
) -> None:
    headers = {"X-User-Id": plain_user["X-User-Id"], "X-Auth-Token": admin["X-Auth-Token"]}
    assert (await client.post(CREATE, json=EXAMPLE, headers=headers)).status == 401


async def test_401_for_deactivated_user(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    await db.execute("UPDATE users SET active = false")
    assert (await client.post(CREATE, json=EXAMPLE, headers=admin)).status == 401


async def test_403_without_permission_comes_before_body_checks(
    client: Client, plain_user: dict[str, str], db: asyncpg.Connection
) -> None:
    for body in (EXAMPLE, {}):
        response = await client.post(CREATE, json=body, headers=plain_user)
        assert (response.status, await response.json()) == (403, FORBIDDEN)
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 0


async def test_form_encoded_body_is_coerced(client: Client, admin: dict[str, str]) -> None:
    response = await client.post(
        CREATE,
        data={"name": "form app", "active": "false", "redirectUri": "https://a.test"},
        headers=admin,
    )
    assert response.status == 200
    app = (await response.json())["application"]
    assert (app["name"], app["active"]) == ("form app", False)


async def test_json_coercion_is_stored(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    response = await client.post(
        CREATE,
        data=b'{"name": 1e21, "active": 1, "redirectUri": "https://a.test"}',
        headers=admin | {"Content-Type": "application/json"},
    )
    app = (await response.json())["application"]
    assert (app["name"], app["active"]) == ("1e+21", True)
    assert await db.fetchval("SELECT name FROM oauth_apps") == "1e+21"


async def test_business_error_shape(client: Client, admin: dict[str, str]) -> None:
    response = await client.post(CREATE, json=EXAMPLE | {"name": "\u3000"}, headers=admin)
    assert response.status == 400
    assert await response.json() == {
        "success": False,
        "error": "Invalid name [error-invalid-name]",
        "errorType": "error-invalid-name",
        "details": {"method": "addOAuthApp"},
    }
    response = await client.post(CREATE, json=EXAMPLE | {"redirectUri": "foo"}, headers=admin)
    assert await response.json() == {
        "success": False,
        "error": "Invalid redirectUri: 'foo' is not an absolute URI [error-invalid-redirectUri]",
        "errorType": "error-invalid-redirectUri",
        "details": {"method": "addOAuthApp"},
    }


async def test_redirect_list_is_stored_normalised(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    body = EXAMPLE | {"redirectUri": "https://a.test ,\n https://b.test,"}
    app = (await (await client.post(CREATE, json=body, headers=admin)).json())["application"]
    assert app["redirectUri"] == "https://a.test,https://b.test"
    assert (
        await db.fetchval("SELECT redirect_uri FROM oauth_apps") == "https://a.test,https://b.test"
    )


async def test_strings_are_stored_exactly(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    name = '  Robert\'); DROP TABLE oauth_apps;-- "ünï¢ødé" 🚀 $(rm -rf /) \u001f '
    app = (await (await client.post(CREATE, json=EXAMPLE | {"name": name}, headers=admin)).json())[
        "application"
    ]
    assert app["name"] == name
    assert await db.fetchval("SELECT name FROM oauth_apps") == name
