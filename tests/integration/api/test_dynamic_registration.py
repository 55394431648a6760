"""RFC 7591 dynamic registration and RFC 7592 by the client itself, over real HTTP."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest

from service.config import Settings
from service.domain.oauth2.registration import RegistrationMode
from service.persistence.database import Database
from service.persistence.oauth2 import registration_tokens
from service.usecases.oauth2.client_registration import create_initial_access_token
from tests.conftest import start_client
from tests.integration.api.test_oauth2 import (
    REDIRECT,
    Client,
    allow,
    authorize_query,
    pkce,
    sign_in,
)
from tests.integration.api.test_oauth2 import basic as basic_of_app
from tests.support.openapi import assert_documented

DYNAMIC = {"_id": None, "username": "dynamic-registration"}


async def serving(settings: Settings, mode: RegistrationMode, calls: int = 1000) -> Client:
    return await start_client(
        dataclasses.replace(settings, oauth_registration=mode, rate_limit_calls=calls)
    )


@pytest.fixture
async def open_client(settings: Settings, db: asyncpg.Connection) -> AsyncIterator[Client]:
    client = await serving(settings, RegistrationMode.OPEN)
    yield client
    await client.close()


@pytest.fixture
async def token_client(settings: Settings, db: asyncpg.Connection) -> AsyncIterator[Client]:
    client = await serving(settings, RegistrationMode.TOKEN)
    yield client
    await client.close()


def metadata(**fields: Any) -> dict[str, Any]:
    return {"client_name": "MCP Inspector", "redirect_uris": [REDIRECT]} | fields


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(client: Client, body: Any = None, **headers: str) -> Any:
    return await client.post("/oauth/register", json=body or metadata(), headers=headers)


async def registered(client: Client, **fields: Any) -> dict[str, Any]:
    response = await register(client, metadata(**fields))
    assert response.status == 201, await response.text()
    document: dict[str, Any] = await response.json()
    return document


async def events(db: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT payload FROM outbox ORDER BY seq")
    return [orjson.loads(row["payload"]) for row in rows]


def client_basic(document: dict[str, Any]) -> dict[str, str]:
    return basic_of_app(
        {"clientId": document["client_id"], "clientSecret": document["client_secret"]}
    )


async def test_off_by_default_is_a_404_and_absent_from_discovery(client: Client) -> None:
    response = await register(client)
    assert response.status == 404
    discovery = await (await client.get("/.well-known/openid-configuration")).json()
    assert "registration_endpoint" not in discovery


async def test_open_registration_answers_201_with_the_client_and_its_secrets(
    open_client: Client, admin: dict[str, str], db: asyncpg.Connection, settings: Settings
) -> None:
    response = await register(
        open_client, metadata(software_id="inspector", application_type="native")
    )
    assert response.status == 201 and response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    client_id = body["client_id"]
    assert body == {
        "client_id": client_id,
        "client_id_issued_at": body["client_id_issued_at"],
        "client_name": "MCP Inspector",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid profile email",
        "require_pkce": True,
        "access_token_lifetime": None,
        "refresh_token_lifetime": None,
        "post_logout_redirect_uris": [],
        "logo_uri": None,
        "client_uri": None,
        "policy_uri": None,
        "tos_uri": None,
        "contacts": [],
        "registration_client_uri": f"{settings.issuer}/oauth/register/{client_id}",
        "client_secret": body["client_secret"],
        "client_secret_expires_at": 0,
        "registration_access_token": body["registration_access_token"],
    }
    assert_documented("POST", "/oauth/register", 201, body)
    # Stored hashed, like every secret; unknown fields are not kept.
    row = await db.fetchrow("SELECT * FROM oauth_apps WHERE client_id = $1", client_id)
    assert body["client_secret"] not in str(dict(row))
    assert body["registration_access_token"] not in str(dict(row))
    assert "software_id" not in row["client_metadata"]
    # An app like any other: listed, and its creation is the usual event.
    listed = await (await open_client.get("/api/v1/oauth-apps.list", headers=admin)).json()
    [app] = listed["oauthApps"]
    assert app["clientId"] == client_id and app["_createdBy"] == DYNAMIC
    [event] = await events(db)
    assert event["type"] == "oauth_app.created" and event["data"]["actor"] == DYNAMIC
    assert event["data"]["application"] == app
    discovery = await (await open_client.get("/.well-known/oauth-authorization-server")).json()
    assert discovery["registration_endpoint"] == f"{settings.issuer}/oauth/register"


async def test_an_administrator_registers_as_themselves_and_may_choose_more(
    open_client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    body = metadata(require_pkce=False, scope="openid api")
    response = await open_client.post("/oauth/register", json=body, headers=admin)
    assert response.status == 201, await response.text()
    document = await response.json()
    assert (document["require_pkce"], document["scope"]) == (False, "openid api")
    [event] = await events(db)
    assert event["data"]["actor"] == {"_id": admin["X-User-Id"], "username": "math.bar"}


@pytest.mark.parametrize(
    ("body", "error", "names"),
    [
        ({"client_name": "x"}, "invalid_redirect_uri", "redirect_uris"),
        (metadata(redirect_uris=[]), "invalid_redirect_uri", "redirect_uris"),
        (metadata(redirect_uris=["javascript:alert(1)"]), "invalid_redirect_uri", "javascript"),
        (metadata(redirect_uris=["https://a.test/cb#frag"]), "invalid_redirect_uri", "fragment"),
        (metadata(redirect_uris="https://a.test/cb"), "invalid_redirect_uri", "array"),
        ({"redirect_uris": [REDIRECT]}, "invalid_client_metadata", "client_name"),
        (metadata(grant_types=["implicit"]), "invalid_client_metadata", "implicit"),
        (metadata(grant_types=["client_credentials"]), "invalid_client_metadata", "client_cred"),
        (metadata(response_types=["token"]), "invalid_client_metadata", "token"),
        (metadata(token_endpoint_auth_method="private_key_jwt"), "invalid_client_metadata", "jwt"),
        (metadata(scope="openid admin"), "invalid_client_metadata", "admin"),
        (metadata(require_pkce=False), "invalid_client_metadata", "require_pkce"),
        (metadata(access_token_lifetime=5), "invalid_client_metadata", "access_token_lifetime"),
        (metadata(logo_uri="ftp://a.test/l.png"), "invalid_client_metadata", "logo_uri"),
        (metadata(contacts=[1]), "invalid_client_metadata", "contacts"),
        (metadata(client_id="mine"), "invalid_client_metadata", "client_id"),
        (metadata(client_secret="mine"), "invalid_client_metadata", "client_secret"),
        (["not", "an", "object"], "invalid_client_metadata", "object"),
    ],
)
async def test_each_refusal_of_rfc_7591_section_3_2_2(
    open_client: Client, db: asyncpg.Connection, body: Any, error: str, names: str
) -> None:
    response = await register(open_client, body)
    assert response.status == 400
    answer = await response.json()
    assert answer["error"] == error and names in answer["error_description"], answer
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_body_that_is_not_json_is_invalid_request(open_client: Client) -> None:
    response = await open_client.post(
        "/oauth/register", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400 and (await response.json())["error"] == "invalid_request"


async def test_open_registration_is_rate_limited_per_address(
    settings: Settings, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    client = await serving(settings, RegistrationMode.OPEN, calls=2)
    try:
        for _ in range(2):
            assert (await register(client)).status == 201
        limited = await register(client)
        assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
        assert (await limited.json())["error"] == "temporarily_unavailable"
        # Another address is another budget; an administrator has none.
        other = await register(client, **{"X-Forwarded-For": "203.0.113.9"})
        assert other.status == 429  # a header from an untrusted peer is not believed
        as_admin = await client.post("/oauth/register", json=metadata(), headers=admin)
        assert as_admin.status == 201
    finally:
        await client.close()
    trusted = await start_client(
        dataclasses.replace(
            settings,
            oauth_registration=RegistrationMode.OPEN,
            rate_limit_calls=1,
            trusted_proxies=(ipaddress.ip_network("127.0.0.1"),),
        )
    )
    try:
        for address in ("203.0.113.1", "203.0.113.2"):
            assert (await register(trusted, **{"X-Forwarded-For": address})).status == 201
        assert (await register(trusted, **{"X-Forwarded-For": "203.0.113.1"})).status == 429
    finally:
        await trusted.close()


async def test_token_mode_needs_an_initial_access_token_or_an_administrator(
    token_client: Client,
    admin: dict[str, str],
    plain_user: dict[str, str],
    database: Database,
    db: asyncpg.Connection,
) -> None:
    anonymous = await register(token_client)
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert (await anonymous.json())["error"] == "invalid_token"
    assert (await register(token_client, **bearer("made-up"))).status == 401
    forbidden = await token_client.post("/oauth/register", json=metadata(), headers=plain_user)
    assert (forbidden.status, (await forbidden.json())["error"]) == (403, "insufficient_scope")
    as_admin = await token_client.post("/oauth/register", json=metadata(), headers=admin)
    assert as_admin.status == 201
    token = await create_initial_access_token(database, expires_in=None, uses=None)
    assert (await register(token_client, **bearer(token))).status == 201
    assert (await register(token_client, **bearer(token))).status == 201
    stored = await db.fetchval("SELECT token_hash FROM registration_tokens")
    assert token not in stored


async def test_initial_access_tokens_count_their_uses_and_expire(
    token_client: Client, database: Database, db: asyncpg.Connection
) -> None:
    twice = await create_initial_access_token(database, expires_in=None, uses=2)
    assert [(await register(token_client, **bearer(twice))).status for _ in range(3)] == [
        201,
        201,
        401,
    ]
    # A refusal spends nothing: the metadata is checked first.
    once = await create_initial_access_token(database, expires_in=3600, uses=1)
    bad = await register(token_client, {"client_name": "x"}, **bearer(once))
    assert bad.status == 400
    assert (await register(token_client, **bearer(once))).status == 201
    expiring = await create_initial_access_token(database, expires_in=3600, uses=None)
    await db.execute("UPDATE registration_tokens SET expires_at = now() - interval '1 second'")
    refused = await register(token_client, **bearer(expiring))
    assert refused.status == 401 and "expired" in (await refused.json())["error_description"]
    # Housekeeping deletes the spent and the expired ones.
    async with database.autocommit.connect() as connection:
        assert await registration_tokens.purge_spent(connection, 10) == 3
    assert await db.fetchval("SELECT count(*) FROM registration_tokens") == 0


async def test_the_client_manages_its_registration_with_its_token(
    open_client: Client, db: asyncpg.Connection
) -> None:
    mine = await registered(open_client)
    other = await registered(open_client, client_name="Other")
    uri = f"/oauth/register/{mine['client_id']}"
    token = mine["registration_access_token"]
    read = await open_client.get(uri, headers=bearer(token))
    assert read.status == 200
    document = await read.json()
    assert document["registration_access_token"] == token and "client_secret" not in document
    assert_documented("GET", "/oauth/register/{client_id}", 200, document)
    for wrong in ("made-up", other["registration_access_token"]):
        refused = await open_client.get(uri, headers=bearer(wrong))
        assert (refused.status, (await refused.json())["error"]) == (401, "invalid_token")
    # PUT replaces: an omitted scope is the registration default, never more.
    changed = await open_client.put(
        uri, json=metadata(client_name="Renamed", scope="openid api"), headers=bearer(token)
    )
    assert changed.status == 200, await changed.text()
    assert (await changed.json())["scope"] == "openid api"
    reset = await open_client.put(uri, json=metadata(), headers=bearer(token))
    assert (await reset.json())["scope"] == "openid profile email"
    no_pkce = await open_client.put(uri, json=metadata(require_pkce=False), headers=bearer(token))
    assert (await no_pkce.json())["error"] == "invalid_client_metadata"
    assert (await open_client.delete(uri, headers=bearer(token))).status == 204
    assert (await open_client.get(uri, headers=bearer(token))).status == 401
    types = [(event["type"], event["data"]["actor"]) for event in await events(db)]
    assert types == [
        ("oauth_app.created", DYNAMIC),
        ("oauth_app.created", DYNAMIC),
        ("oauth_app.updated", DYNAMIC),
        ("oauth_app.updated", DYNAMIC),
        ("oauth_app.deleted", DYNAMIC),
    ]


async def test_a_registered_client_signs_a_user_in(
    open_client: Client, admin: dict[str, str]
) -> None:
    document = await registered(open_client, scope="openid api")
    app = {"clientId": document["client_id"]}
    verifier, challenge = pkce()
    query = authorize_query(app, challenge, scope="openid api")
    code = (await allow(open_client, query, await sign_in(open_client, query)))["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    tokens = await open_client.post("/oauth/token", data=form, headers=client_basic(document))
    assert tokens.status == 200, await tokens.text()
    access = (await tokens.json())["access_token"]
    me = await open_client.get("/api/v1/me", headers=bearer(access))
    assert (await me.json())["username"] == "math.bar"
