"""Scopes (section 12): what an app may ask for, what the user allowed, what a token may do."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

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


async def tokens_for(
    client: Client, app: dict[str, Any], scope: str | None, **extra: str
) -> dict[str, Any]:
    """The tokens of an authorization with ``scope``, signed in or not yet."""
    verifier, challenge = pkce()
    query = authorize_query(app, challenge, **extra)
    query |= {"scope": scope} if scope is not None else {}
    # prompt=consent: the consent page even when this client already signed in and allowed.
    shown = await client.get("/oauth/authorize", params=query | {"prompt": "consent"})
    page = await shown.text()
    if 'name="password"' in page:
        page = await sign_in(client, query)
    code = (await allow(client, query, page))["code"][0]
    response = await exchange(client, app, code, verifier)
    assert response.status == 200, await response.text()
    tokens: dict[str, Any] = await response.json()
    return tokens


async def redirected_error(client: Client, query: dict[str, str]) -> dict[str, list[str]]:
    response = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    assert response.status == 302, await response.text()
    return parse_qs(urlsplit(response.headers["Location"]).query)


async def test_an_unknown_or_unallowed_scope_is_invalid_scope(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    for scope in ("openid telepathy", "offline_access"):
        sent = await redirected_error(client, authorize_query(app, pkce()[1]) | {"scope": scope})
        assert sent["error"] == ["invalid_scope"] and sent["state"] == ["xyz"]


async def test_without_a_scope_the_apps_allowed_scopes_are_granted(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    tokens = await tokens_for(client, app, None)
    assert tokens["scope"] == "openid profile email api"


async def test_consent_names_each_scope_in_words_and_is_asked_again_for_more(
    client: Client, admin: dict[str, str], db: Any
) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1]) | {"scope": "openid"}
    page = await sign_in(client, query)
    assert "Know who you are" in page and "Use the chat API" not in page
    await allow(client, query, page)
    again = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    assert again.status == 302  # remembered: openid was allowed
    more = query | {"scope": "openid api"}
    asked = await client.get("/oauth/authorize", params=more, allow_redirects=False)
    text = await asked.text()
    assert asked.status == 200 and "Use the chat API as you" in text
    await allow(client, more, text)
    assert await db.fetchval("SELECT scope FROM oauth_grants") == "openid api"
    assert await db.fetchval("SELECT count(*) FROM oauth_grants") == 1


async def test_token_responses_introspection_and_refresh_carry_the_scope(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    tokens = await tokens_for(client, app, "openid email api")
    assert tokens["scope"] == "openid email api"
    answer = await (
        await client.post(
            "/oauth/introspect", data={"token": tokens["access_token"]}, headers=basic(app)
        )
    ).json()
    assert answer["scope"] == "openid email api"
    narrower = await client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "scope": "openid",
        },
        headers=basic(app),
    )
    narrowed = await narrower.json()
    assert narrowed["scope"] == "openid"
    wider = await client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": narrowed["refresh_token"],
            "scope": "openid profile",
        },
        headers=basic(app),
    )
    assert (wider.status, (await wider.json())["error"]) == (400, "invalid_scope")
    # The refresh token kept the grant's scope: a plain refresh has it all again.
    plain = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": narrowed["refresh_token"]},
        headers=basic(app),
    )
    assert (await plain.json())["scope"] == "openid email api"


async def test_a_token_without_api_may_not_act_on_the_chat_api(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    tokens = await tokens_for(client, app, "openid profile")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    response = await client.get("/api/v1/me", headers=bearer)
    assert response.status == 403
    assert await response.json() == {"success": False, "error": "insufficient_scope"}
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="api"'
    )
    with_api = await tokens_for(client, app, "api")
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {with_api['access_token']}"}
    )
    assert me.status == 200


async def test_userinfo_answers_the_claims_of_the_granted_scopes(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    only_openid = await tokens_for(client, app, "openid")
    bearer = {"Authorization": f"Bearer {only_openid['access_token']}"}
    assert set(await (await client.get("/oauth/userinfo", headers=bearer)).json()) == {"sub"}
    everything = await tokens_for(client, app, "openid profile email")
    posted = await client.post("/oauth/userinfo", data={"access_token": everything["access_token"]})
    claims = await posted.json()
    assert claims["preferred_username"] == claims["preffered_username"] == "math.bar"
    assert claims["email"] == "math.bar@example.test" and claims["email_verified"] is False
    assert isinstance(claims["updated_at"], int)
    api_only = await tokens_for(client, app, "api")
    refused = await client.get(
        "/oauth/userinfo", headers={"Authorization": f"Bearer {api_only['access_token']}"}
    )
    assert refused.status == 403
    assert (
        refused.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="openid"'
    )


async def test_the_redirect_carries_iss(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1])
    sent = await allow(client, query, await sign_in(client, query))
    issuer = (await (await client.get("/.well-known/oauth-authorization-server")).json())["issuer"]
    assert sent["iss"] == [issuer]
    assert REDIRECT
