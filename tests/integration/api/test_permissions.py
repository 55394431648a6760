"""permissions.listAll and permissions.update, as Rocket.Chat's own tests use them."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import SEEDED_ROLES
from tests.support.waiting import eventually

Client = TestClient[Any, Any]
LIST_ALL = "/api/v1/permissions.listAll"
UPDATE = "/api/v1/permissions.update"


async def test_list_all_shows_each_permission_with_its_roles(
    client: Client, plain_user: dict[str, str]
) -> None:
    response = await client.get(LIST_ALL, headers=plain_user)
    assert response.status == 200
    body = await response.json()
    assert (body["remove"], body["success"]) == ([], True)
    assert {p["_id"]: p["roles"] for p in body["update"]} == SEEDED_ROLES
    assert all(p["_updatedAt"].endswith("Z") for p in body["update"])
    assert (await client.get(LIST_ALL)).status == 401


async def test_list_all_since_a_date(client: Client, plain_user: dict[str, str]) -> None:
    later = await client.get(
        f"{LIST_ALL}?updatedSince=2999-01-01T00:00:00.000Z", headers=plain_user
    )
    assert (await later.json())["update"] == []
    earlier = await client.get(f"{LIST_ALL}?updatedSince=2001-01-01T00:00:00Z", headers=plain_user)
    assert len((await earlier.json())["update"]) == 3
    bad = await client.get(f"{LIST_ALL}?updatedSince=yesterday", headers=plain_user)
    assert (bad.status, await bad.json()) == (
        400,
        {
            "success": False,
            "error": 'The "updatedSince" query parameter must be a valid date.'
            " [error-roomId-param-invalid]",
            "errorType": "error-roomId-param-invalid",
        },
    )


async def test_granting_manage_oauth_apps_lets_a_user_create_at_once(
    client: Client,
    admin: dict[str, str],
    plain_user: dict[str, str],
    db: asyncpg.Connection,
    seeded_roles: None,
) -> None:
    body = {"name": "n", "active": True, "redirectUri": "https://a.test"}
    create = "/api/v1/oauth-apps.create"
    assert (await client.post(create, json=body, headers=plain_user)).status == 403
    grant = {"permissions": [{"_id": "manage-oauth-apps", "roles": ["admin", "user"]}]}
    response = await client.post(UPDATE, json=grant, headers=admin)
    assert response.status == 200
    answer = await response.json()
    assert answer["success"] is True
    assert {p["_id"]: p["roles"] for p in answer["permissions"]}["manage-oauth-apps"] == [
        "admin",
        "user",
    ]

    async def allowed() -> bool:  # every cache forgets within a second
        return (await client.post(create, json=body, headers=plain_user)).status == 200

    await eventually(allowed, timeout=1)
    payload = await db.fetchval(
        "SELECT payload FROM outbox WHERE event_type = 'permission.updated'"
    )
    event = orjson.loads(payload)
    assert event["subject"] == "manage-oauth-apps"
    assert event["data"]["permission"]["roles"] == ["admin", "user"]
    assert event["data"]["actor"]["username"] == "math.bar"

    revoke = {"permissions": [{"_id": "manage-oauth-apps", "roles": ["admin"]}]}
    assert (await client.post(UPDATE, json=revoke, headers=admin)).status == 200

    async def refused() -> bool:
        return (await client.post(create, json=body, headers=plain_user)).status == 403

    await eventually(refused, timeout=1)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"permissions": "manage-oauth-apps"},
        {"permissions": [{"_id": "manage-oauth-apps"}]},
        {"permissions": [{"_id": "manage-oauth-apps", "roles": ["admin", "admin"]}]},
        {"permissions": [{"_id": "manage-oauth-apps", "roles": ["admin"], "x": 1}]},
        {"permissions": [], "extra": True},
        {"permissions": [{"_id": "manage-oauth-apps", "roles": [["admin"]]}]},
    ],
)
async def test_update_body_errors(
    client: Client, admin: dict[str, str], body: dict[str, Any]
) -> None:
    response = await client.post(UPDATE, json=body, headers=admin)
    assert (response.status, await response.json()) == (
        400,
        {
            "success": False,
            "error": "Invalid body params",
            "errorType": "error-invalid-body-params",
        },
    )


@pytest.mark.parametrize(
    ("body", "error", "error_type"),
    [
        (
            {"permissions": [{"_id": "no-such-permission", "roles": ["admin"]}]},
            "Invalid permission",
            "error-invalid-permission",
        ),
        (
            {"permissions": [{"_id": "manage-oauth-apps", "roles": ["no-such-role"]}]},
            "Invalid role",
            "error-invalid-role",
        ),
    ],
)
async def test_update_unknown_permission_or_role(
    client: Client, admin: dict[str, str], body: dict[str, Any], error: str, error_type: str
) -> None:
    response = await client.post(UPDATE, json=body, headers=admin)
    assert (response.status, await response.json()) == (
        400,
        {"success": False, "error": error, "errorType": error_type},
    )


async def test_update_needs_access_permissions(client: Client, plain_user: dict[str, str]) -> None:
    body = {"permissions": [{"_id": "manage-oauth-apps", "roles": ["user"]}]}
    response = await client.post(UPDATE, json=body, headers=plain_user)
    assert response.status == 403
