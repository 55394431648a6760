"""Hostile redirect URIs are refused by oauth-apps.create and .update, over real HTTP."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.config import Settings
from service.domain.redirect_uris import RedirectUriPolicy
from tests.conftest import start_client

Client = TestClient[Any, Any]
V1 = "/api/v1/oauth-apps"
BODY = {"name": "app", "active": True}
WHITESPACE = "must not contain whitespace or control characters"
# What is sent, the URI the message names (after 4.3's splitting), and why.
HOSTILE = [
    ("javascript:alert(1)", "javascript:alert(1)", "must not use the javascript: scheme"),
    ("data:text/html,<script>alert(1)</script>", "data:text/html", "must not use the data: scheme"),
    ("vbscript:msgbox(1)", "vbscript:msgbox(1)", "must not use the vbscript: scheme"),
    ("file:///etc/passwd", "file:///etc/passwd", "must not use the file: scheme"),
    ("https://a.test/cb\nSet-Cookie: x=1", "Set-Cookie: x=1", WHITESPACE),
    ("https://a.test/cb\rSet-Cookie: x=1", "https://a.test/cb\rSet-Cookie: x=1", WHITESPACE),
    ("https://a\u2028b.test/cb", "https://a\u2028b.test/cb", WHITESPACE),
    ("https://[::1/cb", "https://[::1/cb", "is not a well-formed URI"),
    ("https://a.test:abc/cb", "https://a.test:abc/cb", "is not a well-formed URI"),
    (
        "https://a.test:99999/cb",
        "https://a.test:99999/cb",
        "has a port that is not a number from 0 to 65535",
    ),
    (
        "https://a.test;script-src/cb",
        "https://a.test;script-src/cb",
        "has a host that is not a domain name or an IP address",
    ),
]


def refusal(uri: str, why: str, method: str) -> dict[str, Any]:
    message = f"Invalid redirectUri: '{uri}' {why}"
    return {
        "success": False,
        "error": f"{message} [error-invalid-redirectUri]",
        "errorType": "error-invalid-redirectUri",
        "details": {"method": method},
    }


@pytest.fixture(params=[RedirectUriPolicy.RFC6749, RedirectUriPolicy.OAUTH2_1])
async def policy_client(
    request: pytest.FixtureRequest, settings: Settings, db: asyncpg.Connection
) -> AsyncIterator[Client]:
    """A service under each checking policy."""
    client = await start_client(dataclasses.replace(settings, redirect_uri_policy=request.param))
    yield client
    await client.close()


@pytest.mark.parametrize(("sent", "uri", "why"), HOSTILE)
async def test_create_refuses(
    policy_client: Client,
    admin: dict[str, str],
    db: asyncpg.Connection,
    sent: str,
    uri: str,
    why: str,
) -> None:
    response = await policy_client.post(
        f"{V1}.create", json=BODY | {"redirectUri": sent}, headers=admin
    )
    assert response.status == 400
    assert await response.json() == refusal(uri, why, "addOAuthApp")
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 0


@pytest.mark.parametrize(("sent", "uri", "why"), HOSTILE)
async def test_update_refuses(
    policy_client: Client,
    admin: dict[str, str],
    db: asyncpg.Connection,
    sent: str,
    uri: str,
    why: str,
) -> None:
    created = await policy_client.post(
        f"{V1}.create", json=BODY | {"redirectUri": "https://a.test/cb"}, headers=admin
    )
    app_id = (await created.json())["application"]["_id"]
    response = await policy_client.post(
        f"{V1}.update", json=BODY | {"appId": app_id, "redirectUri": sent}, headers=admin
    )
    assert response.status == 400
    assert await response.json() == refusal(uri, why, "updateOAuthApp")
    assert await db.fetchval("SELECT redirect_uri FROM oauth_apps") == "https://a.test/cb"


async def test_policy_none_still_stores_them(
    settings: Settings, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    client = await start_client(
        dataclasses.replace(settings, redirect_uri_policy=RedirectUriPolicy.NONE)
    )
    try:
        response = await client.post(
            f"{V1}.create", json=BODY | {"redirectUri": "javascript:alert(1)"}, headers=admin
        )
        assert response.status == 200
        assert (await response.json())["application"]["redirectUri"] == "javascript:alert(1)"
    finally:
        await client.close()
