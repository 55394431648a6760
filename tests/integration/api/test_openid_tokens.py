"""ID tokens, discovery and logout (OpenID Connect Core, Discovery, RP-Initiated Logout).

Named after the OpenID Foundation's Basic and Config OP test modules they stand in for;
tokens are verified with a maintained JOSE library against the served JWKS.
"""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.integration.api.test_oauth2 import (
    Client,
    authorize_query,
    basic,
    pkce,
    register,
    sign_in,
)
from tests.integration.api.test_oauth2_scopes import tokens_for

NONCE = "n-0S6_WzA2Mj"


async def verified(client: Client, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(await (await client.get("/oauth/jwks")).json())
    decoded = jwt.decode(token, keys)
    assert decoded.header["typ"] == "JWT" and decoded.header["alg"] == "RS256"
    assert decoded.header["kid"] in {key["kid"] for key in keys.as_dict()["keys"]}
    return dict(decoded.claims)


async def openid_tokens(
    client: Client, app: dict[str, Any], scope: str = "openid"
) -> dict[str, Any]:
    return await tokens_for(client, app, scope, nonce=NONCE)


async def issuer(client: Client) -> str:
    metadata = await (await client.get("/.well-known/openid-configuration")).json()
    return str(metadata["issuer"])


async def test_oidcc_server(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    tokens = await openid_tokens(client, app)
    claims = await verified(client, tokens["id_token"])
    assert claims["iss"] == await issuer(client)
    assert claims["aud"] == claims["azp"] == app["clientId"]
    assert claims["sub"] == admin["X-User-Id"]
    assert claims["nonce"] == NONCE
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - time.time()) < 60
    assert claims["iat"] - 60 <= claims["auth_time"] <= claims["iat"]
    assert len(claims["at_hash"]) == 22


async def test_oidcc_scope_profile_email_and_all(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    bare = await verified(client, (await openid_tokens(client, app))["id_token"])
    assert "email" not in bare and "preferred_username" not in bare
    everything = await openid_tokens(client, app, "openid profile email")
    claims = await verified(client, everything["id_token"])
    assert claims["preferred_username"] == "math.bar" and claims["email"] == "math.bar@example.test"
    assert claims["email_verified"] is False


async def test_no_openid_scope_no_id_token(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    assert "id_token" not in await openid_tokens(client, app, "api")


async def test_oidcc_refresh_token(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    first = await openid_tokens(client, app)
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=basic(app),
    )
    refreshed = await response.json()
    before = await verified(client, first["id_token"])
    after = await verified(client, refreshed["id_token"])
    assert after["sub"] == before["sub"] and after["auth_time"] == before["auth_time"]
    assert "nonce" not in after and after["at_hash"] != before["at_hash"]


async def test_oidcc_discovery_endpoint_verification(client: Client) -> None:
    document = await (await client.get("/.well-known/openid-configuration")).json()
    rfc8414 = await (await client.get("/.well-known/oauth-authorization-server")).json()
    assert document == rfc8414
    base = document["issuer"]
    assert document["jwks_uri"] == f"{base}/oauth/jwks"
    assert document["end_session_endpoint"] == f"{base}/oauth/logout"
    assert document["id_token_signing_alg_values_supported"][0] == "RS256"
    assert document["subject_types_supported"] == ["public"]
    assert document["response_types_supported"] == ["code"]
    assert document["response_modes_supported"] == ["query"]
    assert {"sub", "email", "preferred_username", "nonce", "auth_time"} <= set(
        document["claims_supported"]
    )
    assert document["prompt_values_supported"] == ["none", "login", "consent", "select_account"]
    assert document["request_parameter_supported"] is False
    assert document["authorization_response_iss_parameter_supported"] is True


async def test_oidcc_id_token_hint_signs_out_without_asking(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    tokens = await openid_tokens(client, app)
    page = await client.get("/oauth/logout", params={"id_token_hint": tokens["id_token"]})
    assert "You are signed out" in await page.text()
    again = await client.get("/oauth/authorize", params=authorize_query(app, pkce()[1]))
    assert 'name="password"' in await again.text()
    forged = tokens["id_token"][:-4] + "AAAA"
    await sign_in(client, authorize_query(app, pkce()[1]))
    asked = await client.get("/oauth/logout", params={"id_token_hint": forged})
    assert "Sign out?" in await asked.text()  # a hint we did not sign proves nothing


async def test_another_users_id_token_hint_does_not_sign_this_browser_out(
    client: Client, admin: dict[str, str], plain_user: dict[str, str]
) -> None:
    app = await register(client, admin)
    # The attacker's own ID token (math.bar's), got in this browser...
    attackers = (await openid_tokens(client, app))["id_token"]
    # ...which the victim (plain) then signs in to.
    client.session.cookie_jar.clear(lambda cookie: cookie.key == "oauth_session")
    await sign_in(client, authorize_query(app, pkce()[1]), username="plain")
    asked = await client.get("/oauth/logout", params={"id_token_hint": attackers})
    assert "Sign out?" in await asked.text()  # asked, not signed out
    still = await client.get("/oauth/authorize", params=authorize_query(app, pkce()[1]))
    assert 'name="password"' not in await still.text()
