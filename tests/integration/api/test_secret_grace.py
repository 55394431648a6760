"""``oauth-apps.rotateSecret`` with ``graceSeconds``: the previous secret overlaps, then goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from service.persistence import oauth_apps
from service.persistence.database import Database
from tests.integration.api.test_oauth2 import Client, basic, register
from tests.support.waiting import eventually

ROTATE = "/api/v1/oauth-apps.rotateSecret"


async def authenticates(client: Client, app: dict[str, Any], secret: str) -> bool:
    """Whether the token endpoint's client authentication takes this secret."""
    response = await client.post(
        "/oauth/introspect",
        data={"token": "whatever"},
        headers=basic({"clientId": app["clientId"], "clientSecret": secret}),
    )
    assert response.status in (200, 401), await response.text()
    return response.status == 200


async def until_refused(client: Client, app: dict[str, Any], secret: str) -> None:
    """A cached client learns of a change by notification: wait for it, with a deadline."""

    async def refused() -> bool:
        return not await authenticates(client, app, secret)

    await eventually(refused, timeout=10)


async def rotate(client: Client, admin: dict[str, str], body: dict[str, Any]) -> Any:
    return await client.post(ROTATE, json=body, headers=admin)


async def test_the_previous_secret_works_until_the_grace_ends_then_is_purged(
    client: Client, admin: dict[str, str], db: asyncpg.Connection, database: Database
) -> None:
    app = await register(client, admin)
    old = app["clientSecret"]
    response = await rotate(client, admin, {"appId": app["_id"], "graceSeconds": 3600})
    assert response.status == 200
    body = await response.json()
    new = body["application"]["clientSecret"]
    assert set(body) == {"application", "success"} and body["success"] is True
    assert await authenticates(client, app, new) and await authenticates(client, app, old)
    event = orjson.loads(
        await db.fetchval(
            "SELECT payload FROM outbox WHERE event_type = 'oauth_app.secret_rotated'"
        )
    )
    until = datetime.fromisoformat(event["data"]["previousSecretValidUntil"])
    assert abs(until - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=1)
    row = await db.fetchrow("SELECT * FROM oauth_apps WHERE id = $1", app["_id"])
    assert old not in str(dict(row)) and row["previous_secret_hash"]

    # The overlap ends: the old secret stops, the new one goes on.
    await db.execute(
        "UPDATE oauth_apps SET previous_secret_expires_at = now() - interval '1 second'"
    )
    await until_refused(client, app, old)
    assert await authenticates(client, app, new)
    async with database.autocommit.connect() as connection:
        assert await oauth_apps.purge_expired_previous_secrets(connection, 10) == 1
        assert await oauth_apps.purge_expired_previous_secrets(connection, 10) == 0
    row = await db.fetchrow("SELECT * FROM oauth_apps WHERE id = $1", app["_id"])
    assert row["previous_secret_hash"] is None and row["previous_secret_expires_at"] is None


async def test_the_overlap_is_judged_when_the_secret_is_shown_not_when_cached(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    await rotate(client, admin, {"appId": app["_id"], "graceSeconds": 1})
    assert await authenticates(client, app, app["clientSecret"])  # now cached
    await until_refused(client, app, app["clientSecret"])


@pytest.mark.parametrize("grace", [None, 0])
async def test_without_grace_the_old_secret_stops_at_once(
    client: Client, admin: dict[str, str], db: asyncpg.Connection, grace: int | None
) -> None:
    app = await register(client, admin)
    body = {"appId": app["_id"]} | ({} if grace is None else {"graceSeconds": grace})
    new = (await (await rotate(client, admin, body)).json())["application"]["clientSecret"]
    assert not await authenticates(client, app, app["clientSecret"])
    assert await authenticates(client, app, new)
    payload = await db.fetchval(
        "SELECT payload FROM outbox WHERE event_type = 'oauth_app.secret_rotated'"
    )
    assert orjson.loads(payload)["data"]["previousSecretValidUntil"] is None


async def test_a_second_rotation_forgets_the_first_previous_secret(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    first = await (await rotate(client, admin, {"appId": app["_id"], "graceSeconds": 60})).json()
    await rotate(client, admin, {"appId": app["_id"], "graceSeconds": 60})
    assert await authenticates(client, app, first["application"]["clientSecret"])
    assert not await authenticates(client, app, app["clientSecret"])


@pytest.mark.parametrize(
    ("grace", "message"),
    [
        (-1, "must be >= 0"),
        (604_801, "must be <= 604800"),
        (1.5, "must be integer"),
        ("soon", "must be integer"),
        ([60], "must be integer"),
    ],
)
async def test_grace_seconds_is_checked_like_the_rest_of_the_family(
    client: Client, admin: dict[str, str], grace: Any, message: str
) -> None:
    app = await register(client, admin)
    response = await rotate(client, admin, {"appId": app["_id"], "graceSeconds": grace})
    assert response.status == 400
    assert await response.json() == {
        "success": False,
        "error": f"{message} [invalid-params]",
        "errorType": "invalid-params",
    }
    assert await authenticates(client, app, app["clientSecret"])


@pytest.mark.parametrize("grace", ["60", 604_800, True])
async def test_grace_seconds_is_coerced_as_ajv_does(
    client: Client, admin: dict[str, str], grace: Any
) -> None:
    app = await register(client, admin)
    response = await rotate(client, admin, {"appId": app["_id"], "graceSeconds": grace})
    assert response.status == 200
    assert await authenticates(client, app, app["clientSecret"])


async def test_other_properties_are_still_refused(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    response = await rotate(client, admin, {"appId": app["_id"], "grace": 60})
    assert (await response.json())[
        "error"
    ] == "must NOT have additional properties [invalid-params]"
