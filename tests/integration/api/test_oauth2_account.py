"""``/account/apps`` over real HTTP: the list, revoking with the form's token, and nothing else."""

from __future__ import annotations

import re

import asyncpg
import orjson

from service.persistence.database import Database
from service.usecases import accounts
from tests.integration.api.test_oauth2 import (
    PASSWORD,
    Client,
    allow,
    authorize_query,
    csrf,
    exchange,
    pkce,
    register,
    sign_in,
)


async def connect(client: Client, admin: dict[str, str], username: str = "math.bar") -> str:
    """A new app allowed by ``username`` (signed in first if need be): its access token."""
    app = await register(client, admin)
    verifier, challenge = pkce()
    query = authorize_query(app, challenge, scope="openid email")
    signed_in = any(cookie.key == "oauth_session" for cookie in client.session.cookie_jar)
    if signed_in:
        page = await (await client.get("/oauth/authorize", params=query)).text()
    else:
        page = await sign_in(client, query, username)
    code = (await allow(client, query, page))["code"][0]
    tokens = await (await exchange(client, app, code, verifier)).json()
    return str(tokens["access_token"])


def grant_ids(page: str) -> list[str]:
    return re.findall(r'name="grant_id" value="([^"]+)"', page)


async def test_signed_out_the_page_says_how_to_sign_in(client: Client) -> None:
    page = await client.get("/account/apps")
    assert page.status == 200 and "You are not signed in" in await page.text()
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


async def test_the_list_and_a_revocation_that_takes_effect_at_once(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    query = authorize_query(await register(client, admin), pkce()[1])
    await sign_in(client, query)  # a session, no grant yet
    empty = await (await client.get("/account/apps")).text()
    assert "You have not allowed any app yet." in empty
    token = await connect(client, admin)
    page = await (await client.get("/account/apps")).text()
    assert "&lt;Shop &amp; Co&gt;" in page and "See your email address" in page
    assert "Last used on" in page and "Allowed on" in page
    [grant_id] = grant_ids(page)
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/oauth/userinfo", headers=bearer)).status == 200
    revoked = await client.post(
        "/account/apps/revoke",
        data={"csrf_token": csrf(page), "grant_id": grant_id},
        allow_redirects=False,
    )
    assert (revoked.status, revoked.headers["Location"]) == (303, "/account/apps")
    assert (await client.get("/oauth/userinfo", headers=bearer)).status == 401
    assert (await client.get("/api/v1/me", headers=bearer)).status == 401
    assert grant_ids(await (await client.get("/account/apps")).text()) == []
    [row] = await db.fetch("SELECT payload FROM outbox WHERE event_type = 'oauth_grant.revoked'")
    event = orjson.loads(row["payload"])
    assert event["data"]["actor"]["username"] == "math.bar"
    assert event["data"]["grant"]["_id"] == grant_id


async def test_a_forged_token_or_another_users_grant_changes_nothing(
    client: Client, admin: dict[str, str], db: asyncpg.Connection, database: Database
) -> None:
    await accounts.create_user(database, "mallory", PASSWORD)
    victim_token = await connect(client, admin)
    [victim_grant] = grant_ids(await (await client.get("/account/apps")).text())
    forged = await client.post(
        "/account/apps/revoke",
        data={"csrf_token": "forged", "grant_id": victim_grant},
        allow_redirects=False,
    )
    assert forged.status == 403 and "did not come from this site" in await forged.text()
    client.session.cookie_jar.clear()
    await connect(client, admin, "mallory")
    page = await (await client.get("/account/apps")).text()
    assert victim_grant not in grant_ids(page)
    other = await client.post(
        "/account/apps/revoke",
        data={"csrf_token": csrf(page), "grant_id": victim_grant},
        allow_redirects=False,
    )
    assert other.status == 303
    bearer = {"Authorization": f"Bearer {victim_token}"}
    assert (await client.get("/oauth/userinfo", headers=bearer)).status == 200
    revoked = "SELECT count(*) FROM oauth_grants WHERE revoked_at IS NOT NULL"
    assert await db.fetchval(revoked) == 0
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE event_type LIKE '%revoked'") == 0
