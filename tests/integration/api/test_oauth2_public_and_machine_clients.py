"""Public clients (``none``), CORS for their pages, and client_credentials, over real HTTP."""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from tests.integration.api.test_client_registration import metadata, put, registration
from tests.integration.api.test_oauth2 import (
    Client,
    basic,
    csrf,
    pkce,
    register,
    sign_in,
)

SPA = "https://spa.test"
LOOPBACK = "http://127.0.0.1/cb"
NATIVE = "com.example.app:/cb"
PUBLIC_URIS = [f"{SPA}/cb", LOOPBACK, NATIVE]


async def public_app(client: Client, admin: dict[str, str], **fields: Any) -> dict[str, Any]:
    """An app switched to a public client by PUT, with its (now dead) secret kept."""
    app = await register(client, admin)
    body = metadata(redirect_uris=PUBLIC_URIS, token_endpoint_auth_method="none") | fields
    response = await put(client, admin, app, body)
    assert response.status == 200, await response.text()
    return app


async def machine_app(client: Client, admin: dict[str, str], **fields: Any) -> dict[str, Any]:
    """An app that may use client_credentials only."""
    app = await register(client, admin)
    body = metadata(grant_types=["client_credentials"], scope="openid profile email api") | fields
    response = await put(client, admin, app, body)
    assert response.status == 200, await response.text()
    return app


def query_for(app: dict[str, Any], redirect_uri: str, challenge: str | None) -> dict[str, str]:
    query = {"response_type": "code", "client_id": app["clientId"], "redirect_uri": redirect_uri}
    if challenge is not None:
        query |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return query


async def approve(client: Client, query: dict[str, str]) -> str:
    """Sign in, allow, and return where the browser is sent."""
    page = await sign_in(client, query)
    answer = await client.post(
        "/oauth/authorize",
        data=query | {"csrf_token": csrf(page), "decision": "allow"},
        allow_redirects=False,
    )
    assert answer.status == 302, await answer.text()
    return answer.headers["Location"]


def code_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


async def token(client: Client, form: dict[str, str], **headers: str) -> Any:
    return await client.post("/oauth/token", data=form, headers=headers)


async def test_a_public_client_runs_the_code_flow_with_its_client_id_alone(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = await public_app(client, admin, require_pkce=False)
    shown = await (await client.get(registration(app), headers=admin)).json()
    assert shown["token_endpoint_auth_method"] == "none"
    # PKCE whatever require_pkce says.
    refused = await client.get(
        "/oauth/authorize", params=query_for(app, f"{SPA}/cb", None), allow_redirects=False
    )
    assert refused.status == 302
    assert parse_qs(urlsplit(refused.headers["Location"]).query)["error"] == ["invalid_request"]

    verifier, challenge = pkce()
    code = code_of(await approve(client, query_for(app, f"{SPA}/cb", challenge)))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": f"{SPA}/cb"}
    response = await token(client, form | {"client_id": app["clientId"], "code_verifier": verifier})
    assert response.status == 200, await response.text()
    tokens = await response.json()
    assert tokens["refresh_token"] and tokens["id_token"]

    # Rotated as for every client; the spent refresh token revokes the family.
    refresh = {"grant_type": "refresh_token", "client_id": app["clientId"]}
    rotated = await token(client, refresh | {"refresh_token": tokens["refresh_token"]})
    assert rotated.status == 200
    new = await rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    replay = await token(client, refresh | {"refresh_token": tokens["refresh_token"]})
    assert (await replay.json())["error"] == "invalid_grant"
    bearer = {"Authorization": f"Bearer {new['access_token']}"}
    assert (await client.get("/oauth/userinfo", headers=bearer)).status == 401


async def test_a_public_client_revokes_with_its_client_id_and_may_not_introspect(
    client: Client, admin: dict[str, str]
) -> None:
    app = await public_app(client, admin)
    verifier, challenge = pkce()
    code = code_of(await approve(client, query_for(app, f"{SPA}/cb", challenge)))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": f"{SPA}/cb"}
    tokens = await (
        await token(client, form | {"client_id": app["clientId"], "code_verifier": verifier})
    ).json()
    introspected = await client.post(
        "/oauth/introspect", data={"token": tokens["access_token"], "client_id": app["clientId"]}
    )
    assert (introspected.status, (await introspected.json())["error"]) == (401, "invalid_client")
    revoked = await client.post(
        "/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": app["clientId"]}
    )
    assert revoked.status == 200
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/oauth/userinfo", headers=bearer)).status == 401


async def test_a_switch_to_none_kills_the_secret_for_good(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = await public_app(client, admin)
    form = {"grant_type": "refresh_token", "refresh_token": "x" * 43}
    secret = {"client_id": app["clientId"], "client_secret": app["clientSecret"]}
    for response in (await token(client, form, **basic(app)), await token(client, form | secret)):
        assert (response.status, (await response.json())["error"]) == (401, "invalid_client")
    stored = await db.fetchval(
        "SELECT client_secret_hash FROM oauth_apps WHERE client_id = $1", app["clientId"]
    )
    assert stored == ""
    # Back to a secret method: the old secret stays dead until oauth-apps.rotateSecret.
    assert (await put(client, admin, app, metadata())).status == 200
    response = await token(client, form, **basic(app))
    assert (await response.json())["error"] == "invalid_client"
    # A confidential client still needs its secret: its client_id alone is nothing.
    alone = await token(client, form | {"client_id": app["clientId"]})
    assert (await alone.json())["error"] == "invalid_client"


async def test_loopback_ip_redirects_match_on_any_port_for_a_public_client_only(
    client: Client, admin: dict[str, str]
) -> None:
    app = await public_app(client, admin)
    redirect = "http://127.0.0.1:49152/cb"
    verifier, challenge = pkce()
    location = await approve(client, query_for(app, redirect, challenge))
    assert location.startswith(redirect + "?")
    form = {"grant_type": "authorization_code", "code": code_of(location)}
    form |= {"redirect_uri": redirect, "client_id": app["clientId"], "code_verifier": verifier}
    assert (await token(client, form)).status == 200
    for other in ("http://127.0.0.1:49152/other", "http://localhost:49152/cb"):
        page = await client.get(
            "/oauth/authorize", params=query_for(app, other, challenge), allow_redirects=False
        )
        assert page.status == 400
    confidential = await register(client, admin)
    assert (
        await put(client, admin, confidential, metadata(redirect_uris=[LOOPBACK]))
    ).status == 200
    page = await client.get(
        "/oauth/authorize",
        params=query_for(confidential, redirect, challenge),
        allow_redirects=False,
    )
    assert page.status == 400


async def test_a_private_use_scheme_receives_the_code(
    client: Client, admin: dict[str, str]
) -> None:
    app = await public_app(client, admin)
    location = await approve(client, query_for(app, NATIVE, pkce()[1]))
    assert location.startswith(NATIVE + "?code=")


def assert_no_cors(response: Any) -> None:
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Credentials" not in response.headers


def assert_cors_for(response: Any, origin: str) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response.headers.getall("Vary")
    assert "Access-Control-Allow-Credentials" not in response.headers


async def preflight(client: Client, path: str, origin: str, method: str = "POST") -> Any:
    return await client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization",
        },
    )


async def test_preflights_and_answers_allow_public_clients_origins_only(
    client: Client, admin: dict[str, str]
) -> None:
    app = await public_app(client, admin)
    await register(client, admin)  # a confidential client's origin is no page's
    for path, methods in (
        ("/oauth/token", "POST"),
        ("/oauth/revoke", "POST"),
        ("/oauth/userinfo", "GET, POST"),
    ):
        for origin in (SPA, "http://127.0.0.1:5173", "http://127.0.0.1"):
            answer = await preflight(client, path, origin)
            assert answer.status == 204, path
            assert_cors_for(answer, origin)
            assert answer.headers["Access-Control-Allow-Methods"] == methods
            assert "Authorization" in answer.headers["Access-Control-Allow-Headers"]
            assert int(answer.headers["Access-Control-Max-Age"]) > 0
        for origin in ("https://client.test", "https://evil.test", "null", "http://[::1]:5173"):
            answer = await preflight(client, path, origin)
            assert answer.status == 204
            assert_no_cors(answer)
            assert "Access-Control-Allow-Methods" not in answer.headers

    # The answers themselves, errors included, for the allowed origins only.
    verifier, challenge = pkce()
    code = code_of(await approve(client, query_for(app, f"{SPA}/cb", challenge)))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": f"{SPA}/cb"}
    form |= {"client_id": app["clientId"], "code_verifier": verifier}
    issued = await token(client, form, Origin=SPA)
    assert issued.status == 200
    assert_cors_for(issued, SPA)
    tokens = await issued.json()
    again = await token(client, form, Origin=SPA)  # the code is spent
    assert again.status == 400
    assert_cors_for(again, SPA)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = await client.get("/oauth/userinfo", headers=bearer | {"Origin": SPA})
    assert info.status == 401  # the replayed code revoked it, and the page may read why
    assert_cors_for(info, SPA)
    assert info.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"
    evil = await token(client, form, Origin="https://evil.test")
    assert_no_cors(evil)
    revoked = await client.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"], "client_id": app["clientId"]},
        headers={"Origin": "http://127.0.0.1:8000"},
    )
    assert revoked.status == 200
    assert_cors_for(revoked, "http://127.0.0.1:8000")


async def test_discovery_and_the_keys_are_readable_by_any_page_without_credentials(
    client: Client,
) -> None:
    for path in (
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/oauth/jwks",
    ):
        answer = await client.get(path, headers={"Origin": "https://anyone.test"})
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in answer.headers
        ask = await preflight(client, path, "https://anyone.test", "GET")
        assert ask.status == 204 and ask.headers["Access-Control-Allow-Origin"] == "*"
        assert ask.headers["Access-Control-Allow-Methods"] == "GET"


async def test_an_app_switched_off_loses_its_origin(client: Client, admin: dict[str, str]) -> None:
    app = await public_app(client, admin)
    assert_cors_for(await preflight(client, "/oauth/token", SPA), SPA)
    body = {"appId": app["_id"], "name": "off", "redirectUri": ",".join(PUBLIC_URIS)}
    response = await client.post(
        "/api/v1/oauth-apps.update", json=body | {"active": False}, headers=admin
    )
    assert response.status == 200, await response.text()
    # The cache forgets on the auth_changed notification, which comes a moment later.
    deadline = asyncio.get_running_loop().time() + 5
    while "Access-Control-Allow-Origin" in (await preflight(client, "/oauth/token", SPA)).headers:
        assert asyncio.get_running_loop().time() < deadline, "origin still allowed"
        await asyncio.sleep(0.05)


async def test_client_credentials_issues_an_access_token_for_the_client_itself(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = await machine_app(client, admin)
    form = {"grant_type": "client_credentials"}
    response = await token(client, form, **basic(app))
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    issued = await response.json()
    assert set(issued) == {"access_token", "token_type", "expires_in", "scope"}
    assert issued["scope"] == "profile email" and issued["expires_in"] == 3600
    # client_secret_post as well, with a narrower scope.
    posted = await token(
        client,
        form
        | {"scope": "email", "client_id": app["clientId"], "client_secret": app["clientSecret"]},
    )
    assert (await posted.json())["scope"] == "email"
    for scope in ("openid", "api", "offline_access", "email nope"):
        refused = await token(client, form | {"scope": scope}, **basic(app))
        assert (refused.status, (await refused.json())["error"]) == (400, "invalid_scope")

    introspected = await client.post(
        "/oauth/introspect", data={"token": issued["access_token"]}, headers=basic(app)
    )
    answer = await introspected.json()
    assert answer["active"] and answer["sub"] == app["clientId"] == answer["client_id"]
    assert answer["username"] is None and answer["token_type"] == "Bearer"
    bearer = {"Authorization": f"Bearer {issued['access_token']}"}
    me = await client.get("/api/v1/me", headers=bearer)
    assert me.status == 401
    assert (await client.get("/oauth/userinfo", headers=bearer)).status == 401

    # One live grant, without a user, for every request; its creation is an event.
    grants = await db.fetch(
        "SELECT g.user_id, g.scope FROM oauth_grants g JOIN oauth_apps a ON a.id = g.app_id"
        " WHERE a.client_id = $1",
        app["clientId"],
    )
    assert [(row["user_id"], row["scope"]) for row in grants] == [(None, "profile email")]
    metrics = await (await client.get("/metrics")).text()
    assert 'oauth_apps_oauth_tokens_issued_total{grant_type="client_credentials"}' in metrics

    # Revocable, and ended with the app.
    await client.post("/oauth/revoke", data={"token": issued["access_token"]}, headers=basic(app))
    gone = await client.post(
        "/oauth/introspect", data={"token": issued["access_token"]}, headers=basic(app)
    )
    assert (await gone.json()) == {"active": False}


async def test_client_credentials_is_for_confidential_apps_that_registered_it(
    client: Client, admin: dict[str, str]
) -> None:
    ordinary = await register(client, admin)
    refused = await token(client, {"grant_type": "client_credentials"}, **basic(ordinary))
    assert (refused.status, (await refused.json())["error"]) == (400, "unauthorized_client")
    app = await register(client, admin)
    body = metadata(grant_types=["client_credentials"], token_endpoint_auth_method="none")
    response = await put(client, admin, app, body)
    assert (response.status, (await response.json())["error"]) == (400, "invalid_client_metadata")
    # Without Basic, a secret is still needed: client_id alone is a public client's way.
    machine = await machine_app(client, admin)
    alone = await token(
        client, {"grant_type": "client_credentials", "client_id": machine["clientId"]}
    )
    assert (alone.status, (await alone.json())["error"]) == (401, "invalid_client")


async def test_basic_with_an_empty_password_is_a_public_client_named_alone(
    client: Client, admin: dict[str, str]
) -> None:
    app = await public_app(client, admin)
    raw = base64.b64encode(f"{app['clientId']}:".encode()).decode()
    response = await token(
        client,
        {"grant_type": "refresh_token", "refresh_token": "x" * 43},
        Authorization=f"Basic {raw}",
    )
    # Authenticated: the refresh token is what is wrong.
    assert (await response.json())["error"] == "invalid_grant"
