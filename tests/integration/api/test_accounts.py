"""Login, logout and /me like Rocket.Chat's REST API."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import start_client

Client = TestClient[Any, Any]
LOGIN = "/api/v1/login"
WRONG = {"status": "error", "error": "Unauthorized", "message": "Unauthorized"}


async def test_login_by_username_and_by_email(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    for body in (
        {"username": "math.bar", "password": "correct horse"},
        {"user": "math.bar@example.test", "password": "correct horse"},
        {"user": "math.bar", "password": "correct horse"},
    ):
        response = await client.post(LOGIN, json=body)
        assert response.status == 200, body
        payload = await response.json()
        assert payload["status"] == "success"
        data = payload["data"]
        assert data["userId"] == admin["X-User-Id"]
        assert len(data["authToken"]) == 43
        assert data["me"] == {
            "_id": admin["X-User-Id"],
            "username": "math.bar",
            "emails": [{"address": "math.bar@example.test", "verified": False}],
            "roles": ["admin", "user"],
            "active": True,
        }
    # Login tokens expire after 90 days; personal access tokens do not.
    lifetimes = await db.fetch(
        "SELECT kind, expires_at - created_at AS lifetime FROM login_tokens ORDER BY kind"
    )
    assert {(r["kind"], r["lifetime"].days if r["lifetime"] else None) for r in lifetimes} == {
        ("login", 90),
        ("personal", None),
    }


@pytest.mark.parametrize(
    "body",
    [
        {"username": "math.bar", "password": "wrong"},
        {"username": "nobody", "password": "correct horse"},
        {"user": "nobody@example.test", "password": "x"},
    ],
)
async def test_wrong_credentials(
    client: Client, admin: dict[str, str], body: dict[str, str]
) -> None:
    response = await client.post(LOGIN, json=body)
    assert (response.status, await response.json()) == (401, WRONG)


async def test_repeated_failures_are_refused_with_retry_after(
    settings: Any, admin: dict[str, str]
) -> None:
    client = await start_client(settings)  # its own throttle, untouched by other tests
    try:
        for _ in range(5):
            response = await client.post(LOGIN, json={"username": "math.bar", "password": "bad"})
            assert response.status == 401
        response = await client.post(
            LOGIN, json={"username": "math.bar", "password": "correct horse"}
        )
        assert response.status == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert (await response.json())["errorType"] == "error-too-many-requests"
    finally:
        await client.close()


async def test_logout_stops_the_token_at_once(client: Client, admin: dict[str, str]) -> None:
    login = await client.post(LOGIN, json={"username": "math.bar", "password": "correct horse"})
    data = (await login.json())["data"]
    headers = {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}
    assert (await client.get("/api/v1/me", headers=headers)).status == 200
    response = await client.post("/api/v1/logout", headers=headers)
    assert await response.json() == {
        "status": "success",
        "data": {"message": "You've been logged out!"},
    }
    assert (await client.get("/api/v1/me", headers=headers)).status == 401
    # The other token of the same user still works.
    assert (await client.get("/api/v1/me", headers=admin)).status == 200


async def test_me(client: Client, plain_user: dict[str, str]) -> None:
    response = await client.get("/api/v1/me", headers=plain_user)
    assert await response.json() == {
        "_id": plain_user["X-User-Id"],
        "username": "plain",
        "emails": [{"address": "plain@example.test", "verified": False}],
        "roles": ["user"],
        "active": True,
        "success": True,
    }
    assert (await client.get("/api/v1/me")).status == 401


async def test_passwords_are_stored_as_argon2(
    admin: dict[str, str], db: asyncpg.Connection
) -> None:
    stored = await db.fetchval("SELECT password_hash FROM users")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


async def test_failures_for_one_user_do_not_lock_out_another_from_the_same_address(
    settings: Any, admin: dict[str, str], plain_user: dict[str, str]
) -> None:
    client = await start_client(settings)
    try:
        for _ in range(20):
            response = await client.post(LOGIN, json={"username": "plain", "password": "bad"})
            assert response.status in (401, 429)
        assert (
            await client.post(LOGIN, json={"username": "plain", "password": "bad"})
        ).status == 429
        admin_login = {"username": "math.bar", "password": "correct horse"}
        assert (await client.post(LOGIN, json=admin_login)).status == 200
    finally:
        await client.close()


async def test_forwarded_addresses_count_only_behind_a_trusted_proxy(
    settings: Any, admin: dict[str, str]
) -> None:
    bad = {"username": "math.bar", "password": "bad"}
    good = {"username": "math.bar", "password": "correct horse"}

    def via(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": address}

    behind_proxy = await start_client(
        dataclasses.replace(settings, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    )
    try:
        for _ in range(5):
            assert (
                await behind_proxy.post(LOGIN, json=bad, headers=via("192.0.2.1"))
            ).status == 401
        assert (await behind_proxy.post(LOGIN, json=good, headers=via("192.0.2.1"))).status == 429
        assert (await behind_proxy.post(LOGIN, json=good, headers=via("192.0.2.2"))).status == 200
    finally:
        await behind_proxy.close()

    direct = await start_client(settings)  # no trusted proxy: the header is the client's own
    try:
        for _ in range(5):
            assert (await direct.post(LOGIN, json=bad, headers=via("192.0.2.1"))).status == 401
        assert (await direct.post(LOGIN, json=good, headers=via("192.0.2.2"))).status == 429
    finally:
        await direct.close()


async def test_concurrent_guesses_get_five_password_checks_whatever_the_concurrency(
    settings: Any, admin: dict[str, str]
) -> None:
    client = await start_client(settings)  # its own limits, untouched by other tests
    try:
        guesses = [{"username": "math.bar", "password": f"bad {n}"} for n in range(99)]
        guesses.insert(50, {"username": "math.bar", "password": "correct horse"})
        responses = await asyncio.gather(*(client.post(LOGIN, json=body) for body in guesses))
        statuses = [response.status for response in responses]
        assert len([status for status in statuses if status != 429]) <= 5
        assert statuses.count(429) >= 95
    finally:
        await client.close()


async def test_a_users_name_and_email_share_one_count(settings: Any, admin: dict[str, str]) -> None:
    client = await start_client(settings)
    try:
        for login_name in (
            "math.bar",
            "MATH.BAR@example.test",
            "math.bar",
            "math.bar@example.test",
        ):
            response = await client.post(LOGIN, json={"user": login_name, "password": "bad"})
            assert response.status == 401
        await client.post(LOGIN, json={"user": "math.bar", "password": "bad"})
        response = await client.post(
            LOGIN, json={"user": "math.bar@example.test", "password": "correct horse"}
        )
        assert response.status == 429
    finally:
        await client.close()


async def test_a_flood_of_made_up_names_from_one_address_is_refused(settings: Any) -> None:
    client = await start_client(settings)
    try:
        bodies = [{"username": f"nobody-{n}", "password": "guess"} for n in range(40)]
        statuses = [
            response.status
            for response in await asyncio.gather(*(client.post(LOGIN, json=b) for b in bodies))
        ]
        # Each name is new, so only the per-address budget can refuse them.
        assert statuses.count(401) == 30
        assert statuses.count(429) == 10
    finally:
        await client.close()
