"""RFC 9728 resource metadata and its 401 challenge, RFC 8707 resource indicators."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from service.config import Settings
from tests.integration.api.test_oauth2 import (
    REDIRECT,
    Client,
    allow,
    authorize_query,
    basic,
    exchange,
    pkce,
    register,
    sign_in,
)
from tests.support.openapi import assert_documented

UNAUTHORIZED = {
    "success": False,
    "error": "You must be logged in to do this.",
    "status": "error",
    "message": "You must be logged in to do this.",
}


@pytest.mark.parametrize(
    "path",
    ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/api/v1"],
)
async def test_the_resource_metadata_names_api_v1_and_this_server(
    client: Client, settings: Settings, path: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert_documented("GET", path, 200, await response.json())
    assert await response.json() == {
        "resource": f"{settings.issuer}/api/v1",
        "authorization_servers": [settings.issuer],
        "scopes_supported": ["api"],
        "bearer_methods_supported": ["header"],
    }


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/api/v1/me", {}),
        ("GET", "/api/v1/oauth-apps.list", {"X-User-Id": "nobody", "X-Auth-Token": "nothing"}),
        ("POST", "/api/v1/oauth-apps.create", {"Authorization": "Bearer not-a-token"}),
    ],
)
async def test_every_401_of_api_v1_points_at_the_metadata_with_rocket_chats_body(
    client: Client, settings: Settings, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await client.request(method, path, headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer resource_metadata="{settings.issuer}/.well-known/oauth-protected-resource"'
    )
    assert await response.json() == UNAUTHORIZED


async def test_a_failed_login_has_the_challenge_too(client: Client) -> None:
    response = await client.post("/api/v1/login", json={"user": "nobody", "password": "x"})
    assert response.status == 401 and "resource_metadata=" in response.headers["WWW-Authenticate"]


async def authorized(
    client: Client, admin: dict[str, str], **extra: str
) -> tuple[dict[str, Any], dict[str, list[str]], str]:
    app = await register(client, admin)
    verifier, challenge = pkce()
    query = authorize_query(app, challenge, **extra)
    return app, await allow(client, query, await sign_in(client, query)), verifier


@pytest.mark.parametrize("suffix", ["/api/v1", "", "/"])
async def test_a_resource_of_this_server_is_introspected_as_aud(
    client: Client, admin: dict[str, str], settings: Settings, suffix: str
) -> None:
    resource = settings.issuer + suffix
    app, answer, verifier = await authorized(client, admin, resource=resource)
    tokens = await (await exchange(client, app, answer["code"][0], verifier)).json()
    seen = await client.post(
        "/oauth/introspect", data={"token": tokens["access_token"]}, headers=basic(app)
    )
    assert (await seen.json())["aud"] == resource
    # A refresh keeps it (or names it again).
    for form in ({}, {"resource": resource}):
        refreshed = await client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]} | form,
            headers=basic(app),
        )
        tokens = await refreshed.json()
        seen = await client.post(
            "/oauth/introspect", data={"token": tokens["access_token"]}, headers=basic(app)
        )
        assert (await seen.json())["aud"] == resource


async def test_without_a_resource_there_is_no_aud(client: Client, admin: dict[str, str]) -> None:
    app, answer, verifier = await authorized(client, admin)
    tokens = await (await exchange(client, app, answer["code"][0], verifier)).json()
    form = {"token": tokens["access_token"]}
    seen = await (await client.post("/oauth/introspect", data=form, headers=basic(app))).json()
    assert seen["active"] is True and "aud" not in seen


async def test_another_resource_on_authorize_goes_back_as_invalid_target(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    _, challenge = pkce()
    query = authorize_query(app, challenge, resource="https://elsewhere.test/api")
    response = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    assert response.status == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    answer = parse_qs(urlsplit(location).query)
    assert answer["error"] == ["invalid_target"] and answer["state"] == ["xyz"]


@pytest.mark.parametrize("resource", ["https://elsewhere.test/api", "http://127.0.0.1:1/api/v2"])
async def test_another_resource_on_the_token_endpoint_is_invalid_target(
    client: Client, admin: dict[str, str], resource: str
) -> None:
    app, answer, verifier = await authorized(client, admin)
    form = {
        "grant_type": "authorization_code",
        "code": answer["code"][0],
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        "resource": resource,
    }
    response = await client.post("/oauth/token", data=form, headers=basic(app))
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_target"
    # The code was not spent on the refusal.
    del form["resource"]
    assert (await client.post("/oauth/token", data=form, headers=basic(app))).status == 200
