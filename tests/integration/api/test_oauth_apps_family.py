"""list, get, update, delete, rotateSecret and idempotent create, over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp.test_utils import TestClient

from service.config import Settings
from service.domain.accounts import Principal
from service.domain.redirect_uris import RedirectUriPolicy
from service.persistence.database import Database, asyncpg_dsn
from service.usecases.group_commit import AppWriter
from service.usecases.oauth_apps import register_oauth_app
from tests.conftest import reuse_event_id
from tests.support.waiting import eventually

Client = TestClient[Any, Any]
V1 = "/api/v1/oauth-apps"
BODY = {"name": "app", "active": True, "redirectUri": "https://a.test/cb"}
FORBIDDEN = {
    "success": False,
    "error": "User does not have the permissions required for this action [error-unauthorized]",
}


async def create(client: Client, headers: dict[str, str], **change: object) -> dict[str, Any]:
    response = await client.post(f"{V1}.create", json=BODY | change, headers=headers)
    assert response.status == 200
    app: dict[str, Any] = (await response.json())["application"]
    return app


def without_secret(app: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in app.items() if k != "clientSecret"}


async def events(db: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT payload FROM outbox ORDER BY seq")
    return [orjson.loads(row["payload"]) for row in rows]


# list


async def test_list_newest_first_without_secrets(client: Client, admin: dict[str, str]) -> None:
    first = await create(client, admin, name="first")
    second = await create(client, admin, name="second")
    response = await client.get(f"{V1}.list", headers=admin)
    assert await response.json() == {
        "oauthApps": [without_secret(second), without_secret(first)],
        "count": 2,
        "offset": 0,
        "total": 2,
        "nextCursor": None,
        "success": True,
    }


async def test_list_pagination_edges(
    client: Client, admin: dict[str, str], database: Database, writer: AppWriter
) -> None:
    principal = Principal(admin["X-User-Id"], "math.bar")
    for _ in range(5):
        await asyncio.gather(
            *(
                register_oauth_app(
                    database, writer, principal, body=BODY, policy=RedirectUriPolicy.RFC6749
                )
                for _ in range(21)
            )
        )

    async def page(query: str) -> dict[str, Any]:
        response = await client.get(f"{V1}.list?{query}", headers=admin)
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body

    default = await page("")
    assert (default["count"], default["offset"], default["total"]) == (50, 0, 105)
    capped = await page("count=101")
    assert (capped["count"], capped["total"]) == (100, 105)
    for huge in ("1000000000", "9" * 40):
        assert (await page(f"count={huge}"))["count"] == 100
    assert (await page(f"offset={'9' * 40}"))["oauthApps"] == []
    assert (await page("count=0"))["oauthApps"] == []
    past_end = await page("offset=200&count=10")
    assert (past_end["oauthApps"], past_end["offset"], past_end["total"]) == ([], 200, 105)
    tail = await page("offset=100&count=100&uid=ignored")
    assert tail["count"] == 5
    everything = (await page("count=100"))["oauthApps"] + tail["oauthApps"]
    assert len({app["_id"] for app in everything}) == 105
    created = [app["_createdAt"] for app in everything]
    assert created == sorted(created, reverse=True)

    # The cursor walks the same list, page by page, and says when it ends.
    walked: list[dict[str, Any]] = []
    cursor_query = "count=40"
    while True:
        body = await page(cursor_query)
        walked += body["oauthApps"]
        assert body["total"] == 105
        if body["nextCursor"] is None:
            break
        cursor_query = f"count=40&cursor={body['nextCursor']}"
    assert [app["_id"] for app in walked] == [app["_id"] for app in everything]
    assert len(walked) == 105
    # An offset counts from the cursor's position.
    first = await page("count=10")
    after = await page(f"count=5&offset=3&cursor={first['nextCursor']}")
    assert [app["_id"] for app in after["oauthApps"]] == [app["_id"] for app in everything[13:18]]
    # The exact total follows deletes, without counting the table.
    await client.post(f"{V1}.delete", json={"appId": everything[0]["_id"]}, headers=admin)
    assert (await page("count=1"))["total"] == 104


@pytest.mark.parametrize(
    "query",
    [
        "foo=1",
        "offset=0&sort=name",
        "count=-1",
        "offset=x",
        "count=1.5",
        "cursor=x",
        "cursor=" + base64.urlsafe_b64encode(b"1:../etc").decode(),
        "cursor=" + base64.urlsafe_b64encode(b"999999999999999999:abc").decode(),
    ],
)
async def test_list_bad_query(client: Client, admin: dict[str, str], query: str) -> None:
    response = await client.get(f"{V1}.list?{query}", headers=admin)
    assert response.status == 400
    body = await response.json()
    assert body["success"] is False and body["errorType"] == "error-invalid-params"
    if query.startswith(("foo", "offset=0&sort")):
        assert body == {
            "success": False,
            "errorType": "error-invalid-params",
            "error": "must NOT have additional properties",
        }


async def test_list_needs_permission(client: Client, plain_user: dict[str, str]) -> None:
    response = await client.get(f"{V1}.list", headers=plain_user)
    assert (response.status, await response.json()) == (403, FORBIDDEN)
    assert (await client.get(f"{V1}.list")).status == 401


# get


async def test_get_by_id_or_client_id_for_any_user(
    client: Client, admin: dict[str, str], plain_user: dict[str, str]
) -> None:
    app = await create(client, admin)
    for query in (f"_id={app['_id']}", f"clientId={app['clientId']}"):
        response = await client.get(f"{V1}.get?{query}", headers=plain_user)
        assert response.status == 200
        assert await response.json() == {"oauthApp": without_secret(app), "success": True}


@pytest.mark.parametrize(
    ("query", "messages"),
    [
        (
            "_id[$ne]=",
            [
                "must be string",
                "must have required property 'clientId'",
                "must have required property 'appId'",
            ],
        ),
        (
            "",
            [
                "must have required property '_id'",
                "must have required property 'clientId'",
                "must have required property 'appId'",
            ],
        ),
        (
            "_id=a&clientId=b",
            [
                "must NOT have additional properties",
                "must NOT have additional properties",
                "must have required property 'appId'",
            ],
        ),
        (
            "clientId[]=a&clientId[]=b",
            [
                "must have required property '_id'",
                "must be string",
                "must have required property 'appId'",
            ],
        ),
    ],
)
async def test_get_query_errors_are_every_ajv_message_of_the_one_of(
    client: Client, admin: dict[str, str], query: str, messages: list[str]
) -> None:
    response = await client.get(f"{V1}.get?{query}", headers=admin)
    assert response.status == 400
    expected = "\n ".join([*messages, "must match exactly one schema in oneOf"])
    assert await response.json() == {
        "success": False,
        "error": f"{expected} [invalid-params]",
        "errorType": "invalid-params",
    }


async def test_get_by_the_deprecated_app_id_says_so(client: Client, admin: dict[str, str]) -> None:
    app = await create(client, admin)
    response = await client.get(f"{V1}.get?appId={app['_id']}", headers=admin)
    assert response.status == 200
    assert (await response.json())["oauthApp"]["_id"] == app["_id"]
    assert "deprecated" in response.headers["X-Deprecation-Message"]
    plain = await client.get(f"{V1}.get?_id={app['_id']}", headers=admin)
    assert "X-Deprecation-Message" not in plain.headers


async def test_get_unknown(client: Client, admin: dict[str, str]) -> None:
    for query in ("_id=65a7d68142a7e12453052d56", "clientId=nope", "clientId=", "appId=x"):
        response = await client.get(f"{V1}.get?{query}", headers=admin)
        assert (response.status, await response.json()) == (
            400,
            {"success": False, "error": "OAuth app not found."},
        )
    assert (await client.get(f"{V1}.get?_id=x")).status == 401


# update


async def test_update(client: Client, admin: dict[str, str], db: asyncpg.Connection) -> None:
    app = await create(client, admin)
    change = {
        "appId": app["_id"],
        "name": "renamed",
        "active": "false",
        "redirectUri": "https://b.test\nhttps://c.test",
    }
    response = await client.post(f"{V1}.update", json=change, headers=admin)
    assert response.status == 200
    updated = await response.json()
    assert list(updated) == [
        "name",
        "redirectUri",
        "active",
        "clientId",
        "_createdAt",
        "_updatedAt",
        "_createdBy",
        "_updatedBy",
        "_id",
        "success",
    ]
    assert (updated["name"], updated["active"], updated["redirectUri"]) == (
        "renamed",
        False,
        "https://b.test,https://c.test",
    )
    assert updated["_updatedBy"] == {"_id": admin["X-User-Id"], "username": "math.bar"}
    assert updated["_updatedAt"] >= app["_createdAt"] == updated["_createdAt"]
    assert (updated["clientId"], updated["_id"]) == (app["clientId"], app["_id"])
    got = await (await client.get(f"{V1}.get?_id={app['_id']}", headers=admin)).json()
    assert got["oauthApp"] == {k: v for k, v in updated.items() if k != "success"}
    _, event = await events(db)
    assert event["type"] == "oauth_app.updated" and event["subject"] == app["_id"]
    assert event["data"]["application"] == got["oauthApp"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "must have required property 'appId' [invalid-params]"),
        (
            {"name": "x", "active": True, "redirectUri": "u"},
            "must have required property 'appId' [invalid-params]",
        ),
        (
            {"appId": "x", "active": True, "redirectUri": "u"},
            "must have required property 'name' [invalid-params]",
        ),
        (
            {"appId": "x", "name": "x", "active": True, "redirectUri": "u", "extra": 1},
            "must NOT have additional properties [invalid-params]",
        ),
        (
            {"appId": [], "name": "x", "active": "yes", "redirectUri": "u"},
            "must be string [invalid-params]",
        ),
        ([], "must be object [invalid-params]"),
    ],
)
async def test_update_schema_first_error(
    client: Client, admin: dict[str, str], body: object, error: str
) -> None:
    response = await client.post(f"{V1}.update", json=body, headers=admin)
    assert response.status == 400
    assert await response.json() == {
        "success": False,
        "error": error,
        "errorType": "invalid-params",
    }


async def test_update_business_errors_and_unknown_app(
    client: Client, admin: dict[str, str]
) -> None:
    app = await create(client, admin)
    base = {"appId": app["_id"], "name": "x", "active": True, "redirectUri": "https://a.test"}
    unknown = base | {"appId": "65a7d68142a7e12453052d56"}
    cases = [
        (base | {"name": " "}, "Invalid name [error-invalid-name]", "error-invalid-name"),
        (
            base | {"redirectUri": "foo"},
            "Invalid redirectUri: 'foo' is not an absolute URI [error-invalid-redirectUri]",
            "error-invalid-redirectUri",
        ),
        (
            unknown,
            "Application not found [error-application-not-found]",
            "error-application-not-found",
        ),
        # Rocket.Chat looks the app up before parsing the list, so unknown wins over ','.
        (
            unknown | {"redirectUri": ","},
            "Application not found [error-application-not-found]",
            "error-application-not-found",
        ),
        (
            base | {"redirectUri": ","},
            "Invalid redirectUri [error-invalid-redirectUri]",
            "error-invalid-redirectUri",
        ),
    ]
    for body, error, error_type in cases:
        response = await client.post(f"{V1}.update", json=body, headers=admin)
        assert response.status == 400
        assert await response.json() == {
            "success": False,
            "error": error,
            "errorType": error_type,
            "details": {"method": "updateOAuthApp"},
        }


async def test_update_needs_permission(
    client: Client, admin: dict[str, str], plain_user: dict[str, str]
) -> None:
    app = await create(client, admin)
    body = {"appId": app["_id"], "name": "x", "active": True, "redirectUri": "https://a.test"}
    response = await client.post(f"{V1}.update", json=body, headers=plain_user)
    assert (response.status, await response.json()) == (403, FORBIDDEN)


# delete


async def test_delete(client: Client, admin: dict[str, str], db: asyncpg.Connection) -> None:
    app = await create(client, admin)
    response = await client.post(f"{V1}.delete", json={"appId": app["_id"]}, headers=admin)
    assert (response.status, await response.text()) == (200, "true")
    assert (await client.get(f"{V1}.get?_id={app['_id']}", headers=admin)).status == 400
    _, event = await events(db)
    assert event["type"] == "oauth_app.deleted"
    assert event["data"]["application"] == without_secret(app)

    response = await client.post(f"{V1}.delete", json={"appId": app["_id"]}, headers=admin)
    assert (response.status, await response.json()) == (
        400,
        {
            "success": False,
            "error": "Application not found [error-application-not-found]",
            "errorType": "error-application-not-found",
            "details": {"method": "deleteOAuthApp"},
        },
    )
    response = await client.post(f"{V1}.delete", json={}, headers=admin)
    assert (await response.json())[
        "error"
    ] == "must have required property 'appId' [invalid-params]"


# rotateSecret


async def test_rotate_secret(client: Client, admin: dict[str, str], db: asyncpg.Connection) -> None:
    app = await create(client, admin)
    response = await client.post(f"{V1}.rotateSecret", json={"appId": app["_id"]}, headers=admin)
    assert response.status == 200
    rotated = (await response.json())["application"]
    assert rotated["clientSecret"] != app["clientSecret"] and len(rotated["clientSecret"]) == 43
    assert (rotated["_id"], rotated["clientId"]) == (app["_id"], app["clientId"])
    stored = await db.fetchval("SELECT client_secret_hash FROM oauth_apps")
    assert (
        stored
        == base64.b64encode(hashlib.sha256(rotated["clientSecret"].encode()).digest()).decode()
    )
    _, event = await events(db)
    assert event["type"] == "oauth_app.secret_rotated"
    raw = orjson.dumps(event).decode()
    assert app["clientSecret"] not in raw and rotated["clientSecret"] not in raw
    got = await (await client.get(f"{V1}.get?_id={app['_id']}", headers=admin)).text()
    assert "clientSecret" not in got

    unknown = await client.post(f"{V1}.rotateSecret", json={"appId": "nope"}, headers=admin)
    assert (await unknown.json())["errorType"] == "error-application-not-found"


# idempotent create


async def test_idempotent_replay(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    headers = admin | {"Idempotency-Key": "order-42"}
    first = await client.post(f"{V1}.create", json=BODY, headers=headers)
    original = (await first.json())["application"]
    assert "Idempotent-Replayed" not in first.headers
    # Same body, other key order and spacing: a replay.
    again = await client.post(
        f"{V1}.create",
        data=b'{"redirectUri": "https://a.test/cb",  "active": true, "name": "app"}',
        headers=headers | {"Content-Type": "application/json"},
    )
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    replayed = await again.json()
    assert replayed == {"application": without_secret(original), "success": True}
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 1
    assert await db.fetchval("SELECT count(*) FROM outbox") == 1


async def test_idempotency_key_with_another_body(client: Client, admin: dict[str, str]) -> None:
    headers = admin | {"Idempotency-Key": "k"}
    await client.post(f"{V1}.create", json=BODY, headers=headers)
    response = await client.post(f"{V1}.create", json=BODY | {"name": "other"}, headers=headers)
    assert response.status == 422
    body = await response.json()
    assert body["errorType"] == "error-idempotency-key-reused"
    assert body["error"].endswith(" [error-idempotency-key-reused]")


async def test_idempotency_key_in_flight(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    headers = admin | {"Idempotency-Key": "slow"}
    first = await client.post(f"{V1}.create", json=BODY, headers=headers)
    assert first.status == 200
    # Make the key look like its first request is still running, in this live process,
    # for longer than any timeout: it stays reserved.
    await db.execute(
        "UPDATE idempotency_keys SET state = 'in_flight', created_at = now() - interval '1 hour'"
    )
    response = await client.post(f"{V1}.create", json=BODY, headers=headers)
    assert response.status == 409
    assert (await response.json())["errorType"] == "error-idempotency-key-in-flight"
    # Its process gone (its owner lock is held by nobody), the key is free at once.
    await db.execute("UPDATE idempotency_keys SET owner_lock = 0")
    assert (await client.post(f"{V1}.create", json=BODY, headers=headers)).status == 200


@contextlib.asynccontextmanager
async def apps_table_locked(db: asyncpg.Connection) -> AsyncIterator[None]:
    """Make every create wait, however long the block lasts."""
    transaction = db.transaction()
    await transaction.start()
    try:
        await db.execute("LOCK TABLE oauth_apps IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        await transaction.rollback()


async def reserved(settings: Settings) -> None:
    """Wait until a reservation is in flight (seen from a connection of its own)."""
    watcher = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:

        async def in_flight() -> bool:
            return bool(
                await watcher.fetchval(
                    "SELECT count(*) FROM idempotency_keys WHERE state = 'in_flight'"
                )
            )

        await eventually(in_flight, timeout=10)
    finally:
        await watcher.close()


async def test_a_request_that_waits_long_keeps_its_key_and_makes_one_app(
    client: Client, admin: dict[str, str], settings: Settings, db: asyncpg.Connection
) -> None:
    headers = admin | {"Idempotency-Key": "patient"}
    async with apps_table_locked(db):
        first = asyncio.ensure_future(client.post(f"{V1}.create", json=BODY, headers=headers))
        await reserved(settings)
        retry = await client.post(f"{V1}.create", json=BODY, headers=headers)
        assert retry.status == 409
    answered = await first
    assert answered.status == 200
    again = await client.post(f"{V1}.create", json=BODY, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["application"]["_id"] == (await answered.json())["application"][
        "_id"
    ]
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 1


async def test_a_request_whose_reservation_was_taken_over_writes_nothing(
    client: Client, admin: dict[str, str], settings: Settings, db: asyncpg.Connection
) -> None:
    headers = admin | {"Idempotency-Key": "usurped"}
    async with apps_table_locked(db):
        first = asyncio.ensure_future(client.post(f"{V1}.create", json=BODY, headers=headers))
        await reserved(settings)
        # As another request does when it takes over a reservation whose owner looked gone.
        takeover = await asyncpg.connect(asyncpg_dsn(settings.database_url))
        try:
            await takeover.execute("UPDATE idempotency_keys SET owner = gen_random_uuid()")
        finally:
            await takeover.close()
    response = await first
    assert response.status == 409
    assert (await response.json())["errorType"] == "error-idempotency-key-in-flight"
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_idempotency_keys_are_per_user_and_expire(
    client: Client,
    admin: dict[str, str],
    database: Database,
    db: asyncpg.Connection,
) -> None:
    from tests.conftest import user_headers

    other = await user_headers(database, "other.admin", ("admin",))
    key = {"Idempotency-Key": "shared"}
    mine = await create(client, admin | key)
    theirs = await create(client, other | key)
    assert mine["_id"] != theirs["_id"]
    await db.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
    fresh = await create(client, admin | key)
    assert fresh["_id"] != mine["_id"] and "clientSecret" in fresh


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
async def test_invalid_idempotency_key(client: Client, admin: dict[str, str], key: str) -> None:
    response = await client.post(
        f"{V1}.create", json=BODY, headers=admin | {"Idempotency-Key": key}
    )
    assert response.status == 400
    assert (await response.json())["errorType"] == "invalid-params"


async def test_failed_create_frees_the_key(
    client: Client, admin: dict[str, str], db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create(client, admin)
    reuse_event_id(monkeypatch, await db.fetchval("SELECT event_id FROM outbox"))
    headers = admin | {"Idempotency-Key": "retry-me"}
    assert (await client.post(f"{V1}.create", json=BODY, headers=headers)).status == 500
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    monkeypatch.undo()
    assert (await client.post(f"{V1}.create", json=BODY, headers=headers)).status == 200
    assert await db.fetchval("SELECT state FROM idempotency_keys") == "done"


async def test_concurrent_duplicates_make_one_app_and_one_event(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    headers = admin | {"Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(client.post(f"{V1}.create", json=BODY, headers=headers) for _ in range(20))
    )
    statuses = sorted(response.status for response in responses)
    assert set(statuses) <= {200, 409} and statuses.count(200) >= 1
    ids = {(await r.json())["application"]["_id"] for r in responses if r.status == 200}
    assert len(ids) == 1
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 1
    assert await db.fetchval("SELECT count(*) FROM outbox") == 1
    secrets = [
        (await r.json())["application"].get("clientSecret") for r in responses if r.status == 200
    ]
    assert sum(secret is not None for secret in secrets) == 1
