"""Clients that register themselves, against a running ``serve``.

The events of a registered client on the real queue and in the audit log; an initial
access token printed by the command; and the MCP Python SDK, which discovers the
server from a 401, registers itself, signs the user in (PKCE, ``resource``) and
refreshes, with the user's part played by a ``requests`` session.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg
import httpx2
import orjson
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.e2e.test_events import body_of
from tests.e2e.test_oauth2_clients import REDIRECT, browser_consents
from tests.support.broker import Observer
from tests.support.processes import Stack, run_cli
from tests.support.waiting import eventually

DYNAMIC = {"_id": None, "username": "dynamic-registration"}
REGISTRATION = {"client_name": "Agent", "redirect_uris": [REDIRECT]}


async def test_a_registered_clients_events_reach_the_queue_and_the_audit_log(
    stack: Stack, observer: Observer, db: asyncpg.Connection
) -> None:
    stack.env["OAUTH_REGISTRATION"] = "open"
    base = await stack.serve()
    await stack.start("audit", "consume", "audit")
    async with aiohttp.ClientSession(base) as http:
        created = await http.post("/oauth/register", json=REGISTRATION)
        assert created.status == 201, await created.text()
        client = await created.json()
        token = {"Authorization": f"Bearer {client['registration_access_token']}"}
        uri = f"/oauth/register/{client['client_id']}"
        changed = await http.put(uri, json=REGISTRATION | {"client_name": "Agent 2"}, headers=token)
        assert changed.status == 200
        assert (await http.delete(uri, headers=token)).status == 204
    messages = await observer.wait_for(3)
    assert [message.routing_key for message in messages] == [
        "oauth_app.created",
        "oauth_app.updated",
        "oauth_app.deleted",
    ]
    for message in messages:
        event = body_of(message)
        data: Any = event["data"]
        assert data["actor"] == DYNAMIC and data["application"]["_createdBy"] == DYNAMIC
        for secret in (client["client_secret"], client["registration_access_token"]):
            assert secret not in message.body.decode()

    async def recorded() -> bool:
        return await db.fetchval("SELECT count(*) FROM audit_log") == 3

    await eventually(recorded, timeout=20)
    rows = await db.fetch("SELECT actor_id, actor_username FROM audit_log")
    assert {(row["actor_id"], row["actor_username"]) for row in rows} == {
        (None, "dynamic-registration")
    }


async def test_an_initial_access_token_from_the_command_registers_as_often_as_it_says(
    stack: Stack, db: asyncpg.Connection
) -> None:
    stack.env["OAUTH_REGISTRATION"] = "token"
    base = await stack.serve("--no-relay")
    made = await run_cli(
        "registration-tokens", "create", "--uses", "1", "--expires-in", "600", env=stack.env
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert len(made.stdout.splitlines()) == 1 and token
    stored = await db.fetchrow("SELECT * FROM registration_tokens")
    assert stored["uses_left"] == 1 and token not in str(dict(stored))
    async with aiohttp.ClientSession(base) as http:
        headers = {"Authorization": f"Bearer {token}"}
        statuses = [
            (await http.post("/oauth/register", json=REGISTRATION, headers=headers)).status
            for _ in range(2)
        ]
    assert statuses == [201, 401]
    refused = await run_cli("registration-tokens", "create", "--uses", "0", env=stack.env)
    assert refused.returncode == 2 and "positive" in refused.stderr


class MemoryStorage:
    """The SDK's token storage, in memory: one client, one token."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


async def test_the_mcp_sdk_discovers_registers_signs_in_and_refreshes(
    stack: Stack, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    stack.env["OAUTH_REGISTRATION"] = "open"
    base = await stack.serve("--no-relay")
    callbacks: list[str] = []

    async def redirect_handler(authorization_url: str) -> None:
        # The browser's part: the login page (with its login_csrf) and Allow.
        callbacks.append(await asyncio.to_thread(browser_consents, authorization_url, base))

    async def callback_handler() -> AuthorizationCodeResult:
        answer = {
            name: values[0] for name, values in parse_qs(urlsplit(callbacks[-1]).query).items()
        }
        return AuthorizationCodeResult(
            code=answer["code"], state=answer["state"], iss=answer["iss"]
        )

    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=f"{base}/api/v1",
        client_metadata=OAuthClientMetadata(
            client_name="MCP proof",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
        me = await http.get(f"{base}/api/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["username"] == "math.bar"
        assert len(callbacks) == 1 and storage.client_info is not None and storage.tokens
        first = storage.tokens

        # The access token runs out: the SDK refreshes (rotation) instead of asking again.
        provider.context.token_expiry_time = time.time() - 1
        again = await http.get(f"{base}/api/v1/me")
        assert again.status_code == 200 and again.json()["_id"] == admin["X-User-Id"]
        assert len(callbacks) == 1
        assert storage.tokens.refresh_token != first.refresh_token
        assert storage.tokens.access_token != first.access_token

    # It registered like any client: one app made by dynamic registration, with the
    # resource it asked for carried to every token.
    app = await db.fetchrow("SELECT * FROM oauth_apps")
    assert app["client_id"] == storage.client_info.client_id
    assert app["created_by_username"] == "dynamic-registration"
    # The scopes of the resource metadata, and offline_access for its refresh tokens.
    assert orjson.loads(app["client_metadata"])["scope"] == "offline_access api"
    resources = await db.fetch("SELECT DISTINCT resource FROM oauth_tokens")
    assert [row["resource"] for row in resources] == [f"{base}/api/v1"]
