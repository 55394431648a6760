"""The authorization server over real HTTP: every error row of the contract's flow."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import orjson
import pytest
from aiohttp.test_utils import TestClient

from service.config import Settings
from service.domain.oauth2.pkce import s256_challenge
from tests.conftest import start_client

Client = TestClient[Any, Any]
REDIRECT = "https://client.test/cb"
PASSWORD = "correct horse"


async def register(
    client: Client, admin: dict[str, str], redirect: str = REDIRECT
) -> dict[str, Any]:
    body = {"name": "<Shop & Co>", "redirectUri": redirect, "active": True}
    response = await client.post("/api/v1/oauth-apps.create", json=body, headers=admin)
    app: dict[str, Any] = (await response.json())["application"]
    return app


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, s256_challenge(verifier)


def basic(app: dict[str, Any]) -> dict[str, str]:
    raw = f"{app['clientId']}:{app['clientSecret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def authorize_query(app: dict[str, Any], challenge: str | None, **extra: str) -> dict[str, str]:
    query = {"response_type": "code", "client_id": app["clientId"], "redirect_uri": REDIRECT}
    query["state"] = "xyz"
    if challenge is not None:
        query |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return query | extra


def login_csrf(page: str) -> str:
    """The login form's CSRF token (its cookie came with the page)."""
    match = re.search(r'name="login_csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


async def login_form(
    client: Client, query: dict[str, str], username: str, password: str
) -> dict[str, str]:
    """Open the login page as a browser would, and fill its form."""
    page = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    text = await page.text()
    assert page.status == 200 and 'name="password"' in text
    return {
        "username": username,
        "password": password,
        "next": urlencode(query),
        "login_csrf": login_csrf(text),
    }


async def sign_in(client: Client, query: dict[str, str], username: str = "math.bar") -> str:
    """Log in on the login page; return the consent page's HTML."""
    form = await login_form(client, query, username, PASSWORD)
    login = await client.post("/oauth/login", data=form, allow_redirects=False)
    assert login.status == 303, await login.text()
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/;" in cookie
    consent = await client.get(login.headers["Location"], allow_redirects=False)
    assert consent.status == 200
    return await consent.text()


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


async def allow(
    client: Client, query: dict[str, str], page: str, decision: str = "allow"
) -> dict[str, list[str]]:
    answer = await client.post(
        "/oauth/authorize",
        data=query | {"csrf_token": csrf(page), "decision": decision},
        allow_redirects=False,
    )
    assert answer.status == 302, await answer.text()
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


async def code_for(client: Client, app: dict[str, Any], challenge: str | None) -> str:
    query = authorize_query(app, challenge)
    page = await sign_in(client, query)
    return (await allow(client, query, page))["code"][0]


async def exchange(client: Client, app: dict[str, Any], code: str, verifier: str | None) -> Any:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier is not None:
        form["code_verifier"] = verifier
    return await client.post("/oauth/token", data=form, headers=basic(app))


async def granted(client: Client, admin: dict[str, str]) -> tuple[dict[str, Any], Any]:
    """A new app, and the tokens of a grant to it (authorization code with PKCE)."""
    app = await register(client, admin)
    verifier, challenge = pkce()
    tokens = await (
        await exchange(client, app, await code_for(client, app, challenge), verifier)
    ).json()
    return app, tokens


async def test_metadata_is_built_from_the_public_url(client: Client) -> None:
    body = await (await client.get("/.well-known/oauth-authorization-server")).json()
    issuer = body["issuer"]
    assert body["token_endpoint"] == f"{issuer}/oauth/token"
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "client_credentials",
    ]
    assert body["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]
    assert body["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]


async def test_the_whole_flow_with_pkce(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = await register(client, admin)
    verifier, challenge = pkce()
    query = authorize_query(app, challenge)
    page = await sign_in(client, query)
    assert "&lt;Shop &amp; Co&gt;" in page and "client.test" in page  # escaped, host shown
    redirected = await allow(client, query, page)
    assert redirected["state"] == ["xyz"]
    response = await exchange(client, app, redirected["code"][0], verifier)
    assert response.status == 200, await response.text()
    assert (
        response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    )
    tokens = await response.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = await (await client.get("/oauth/userinfo", headers=bearer)).json()
    assert info["preferred_username"] == info["preffered_username"] == "math.bar"
    # Like Rocket.Chat, the access token authenticates /api/v1 as its user.
    me = await client.get("/api/v1/me", headers=bearer)
    assert (await me.json())["username"] == "math.bar"
    assert (await client.get(f"/api/v1/me?access_token={tokens['access_token']}")).status == 200
    # Nothing of a token or code is stored in plaintext, nor in an event.
    stored = " ".join(str(row) for row in await db.fetch("SELECT * FROM oauth_tokens"))
    assert tokens["access_token"] not in stored and tokens["refresh_token"] not in stored
    events = [orjson.loads(row["payload"]) for row in await db.fetch("SELECT payload FROM outbox")]
    assert [e["type"] for e in events][-1] == "oauth_grant.created"
    assert set(events[-1]["data"]["grant"]) == {"_id", "clientId", "userId", "createdAt"}

    # A user who granted the app is not asked again.
    again = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    assert again.status == 302 and "code=" in again.headers["Location"]


async def test_refresh_rotates_and_a_replay_revokes_the_family(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app, tokens = await granted(client, admin)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    rotated = await (await client.post("/oauth/token", data=form, headers=basic(app))).json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    replay = await client.post("/oauth/token", data=form, headers=basic(app))
    assert (replay.status, (await replay.json())["error"]) == (400, "invalid_grant")
    # The new tokens died with the family, and the grant is revoked (an event).
    bearer = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await client.get("/oauth/userinfo", headers=bearer)).status == 401
    later = {"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]}
    assert (await client.post("/oauth/token", data=later, headers=basic(app))).status == 400
    types = await db.fetch("SELECT event_type FROM outbox ORDER BY seq")
    assert types[-1]["event_type"] == "oauth_grant.revoked"


async def test_a_long_refresh_chain_keeps_one_live_pair_and_old_access_tokens_die(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app, tokens = await granted(client, admin)
    first_access = tokens["access_token"]
    for _ in range(5):
        form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        answer = await client.post("/oauth/token", data=form, headers=basic(app))
        assert answer.status == 200
        tokens = await answer.json()
    assert await db.fetchval("SELECT count(*) FROM oauth_tokens WHERE revoked_at IS NULL") == 2
    assert await db.fetchval("SELECT count(*) FROM oauth_tokens") == 12
    old = {"Authorization": f"Bearer {first_access}"}
    assert (await client.get("/oauth/userinfo", headers=old)).status == 401
    new = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/oauth/userinfo", headers=new)).status == 200


async def test_the_same_refresh_token_twice_at_once_rotates_once_then_revokes(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app, tokens = await granted(client, admin)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    answers = await asyncio.gather(
        *(client.post("/oauth/token", data=form, headers=basic(app)) for _ in range(4))
    )
    assert sorted(answer.status for answer in answers) == [200, 400, 400, 400]
    # The losers were replays: the family, the winner's new pair included, is revoked.
    assert await db.fetchval("SELECT count(*) FROM oauth_tokens WHERE revoked_at IS NULL") == 0
    assert await db.fetchval("SELECT count(*) FROM oauth_grants WHERE revoked_at IS NULL") == 0


async def test_a_code_used_twice_revokes_what_it_issued(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    verifier, challenge = pkce()
    code = await code_for(client, app, challenge)
    tokens = await (await exchange(client, app, code, verifier)).json()
    second = await exchange(client, app, code, verifier)
    assert (second.status, (await second.json())["error"]) == (400, "invalid_grant")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/oauth/userinfo", headers=bearer)).status == 401


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"verifier": "wrong" * 10}, "invalid_grant"),
        ({"verifier": None}, "invalid_grant"),
        ({"redirect_uri": "https://client.test/other"}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": None}, "invalid_request"),
    ],
)
async def test_token_errors(
    client: Client, admin: dict[str, str], change: dict[str, Any], error: str
) -> None:
    app = await register(client, admin)
    verifier, challenge = pkce()
    code = await code_for(client, app, challenge)
    form: dict[str, str] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
    }
    form["code_verifier"] = change.get("verifier", verifier) or ""
    if "verifier" in change and change["verifier"] is None:
        del form["code_verifier"]
    if "redirect_uri" in change:
        form["redirect_uri"] = change["redirect_uri"]
    if "grant_type" in change:
        if change["grant_type"] is None:
            del form["grant_type"]
        else:
            form["grant_type"] = change["grant_type"]
    response = await client.post("/oauth/token", data=form, headers=basic(app))
    assert response.status == 400
    assert (await response.json())["error"] == error


async def test_bad_client_credentials_are_invalid_client(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    wrong = app | {"clientSecret": "not-the-secret"}
    form = {"grant_type": "refresh_token", "refresh_token": "x"}
    by_basic = await client.post("/oauth/token", data=form, headers=basic(wrong))
    assert by_basic.status == 401 and "Basic" in by_basic.headers["WWW-Authenticate"]
    assert (await by_basic.json())["error"] == "invalid_client"
    by_post = await client.post(
        "/oauth/token", data=form | {"client_id": app["clientId"], "client_secret": "nope"}
    )
    assert by_post.status == 401 and "WWW-Authenticate" not in by_post.headers


async def test_unknown_client_or_redirect_uri_is_a_page_and_never_a_redirect(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    _, challenge = pkce()
    for query in (
        authorize_query(app, challenge, client_id="unknown"),
        authorize_query(app, challenge, redirect_uri="https://evil.test/cb"),
    ):
        response = await client.get("/oauth/authorize", params=query, allow_redirects=False)
        assert response.status == 400 and "Location" not in response.headers
        assert response.content_type == "text/html"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "script-src" not in response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
    ],
)
async def test_other_authorize_errors_go_back_to_the_client(
    client: Client, admin: dict[str, str], extra: dict[str, str], error: str
) -> None:
    app = await register(client, admin)
    _, challenge = pkce()
    query = authorize_query(app, challenge) | extra
    response = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    assert response.status == 302
    sent = parse_qs(urlsplit(response.headers["Location"]).query)
    assert sent["error"] == [error] and sent["state"] == ["xyz"]


async def test_pkce_is_required_by_default(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    response = await client.get(
        "/oauth/authorize", params=authorize_query(app, None), allow_redirects=False
    )
    assert response.status == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query)["error"] == ["invalid_request"]


async def test_deny_and_a_forged_consent(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    _, challenge = pkce()
    query = authorize_query(app, challenge)
    page = await sign_in(client, query)
    denied = await allow(client, query, page, decision="deny")
    assert denied["error"] == ["access_denied"] and denied["state"] == ["xyz"]
    forged = await client.post(
        "/oauth/authorize",
        data=query | {"csrf_token": "forged", "decision": "allow"},
        allow_redirects=False,
    )
    assert forged.status == 403 and "Location" not in forged.headers


async def test_revoke_and_introspect(
    client: Client, admin: dict[str, str], plain_user: dict[str, str]
) -> None:
    app, tokens = await granted(client, admin)
    form = {"token": tokens["access_token"]}
    seen = await (await client.post("/oauth/introspect", data=form, headers=basic(app))).json()
    assert seen["active"] is True and seen["client_id"] == app["clientId"]
    assert seen["username"] == "math.bar" and seen["exp"] - seen["iat"] == 3600
    as_manager = await client.post("/oauth/introspect", data=form, headers=admin)
    assert (await as_manager.json())["active"] is True
    as_user = await client.post("/oauth/introspect", data=form, headers=plain_user)
    assert as_user.status == 401
    assert (await client.post("/oauth/revoke", data=form, headers=basic(app))).status == 200
    gone = await (await client.post("/oauth/introspect", data=form, headers=basic(app))).json()
    assert gone == {"active": False}
    unknown = await client.post("/oauth/revoke", data={"token": "unknown"}, headers=basic(app))
    assert unknown.status == 200


@pytest.mark.parametrize("change", [{"active": False}, None])
async def test_deactivating_or_deleting_an_app_revokes_its_tokens(
    client: Client, admin: dict[str, str], change: dict[str, Any] | None
) -> None:
    app, tokens = await granted(client, admin)
    if change is None:
        await client.post("/api/v1/oauth-apps.delete", json={"appId": app["_id"]}, headers=admin)
    else:
        body = {"appId": app["_id"], "name": "n", "redirectUri": REDIRECT} | change
        assert (
            await client.post("/api/v1/oauth-apps.update", json=body, headers=admin)
        ).status == 200
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/oauth/userinfo", headers=bearer)).status == 401
    assert (await client.get("/api/v1/me", headers=bearer)).status == 401


async def test_rotating_the_secret_keeps_the_tokens(client: Client, admin: dict[str, str]) -> None:
    app, tokens = await granted(client, admin)
    await client.post("/api/v1/oauth-apps.rotateSecret", json={"appId": app["_id"]}, headers=admin)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/oauth/userinfo", headers=bearer)).status == 200


async def test_the_login_page_is_throttled_like_the_api(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    _, challenge = pkce()
    query = authorize_query(app, challenge)
    statuses = []
    form = await login_form(client, query, "math.bar", "wrong")
    for _ in range(6):
        response = await client.post("/oauth/login", data=form, allow_redirects=False)
        statuses.append(response.status)
    assert statuses == [401] * 5 + [429]


async def test_the_session_cookie_is_secure_under_an_https_public_url(
    settings: Settings, admin: dict[str, str]
) -> None:
    client = await start_client(dataclasses.replace(settings, public_url="https://chat.example"))
    try:
        app = await register(client, admin)
        _, challenge = pkce()
        query = authorize_query(app, challenge)
        form = await login_form(client, query, "math.bar", PASSWORD)
        # Over plain HTTP the test client keeps the Secure login cookie to itself.
        cookie = {"Cookie": f"oauth_login={form['login_csrf']}"}
        login = await client.post("/oauth/login", data=form, headers=cookie, allow_redirects=False)
        assert login.status == 303 and "Secure" in login.headers["Set-Cookie"]
        metadata = await (await client.get("/.well-known/oauth-authorization-server")).json()
        assert metadata["issuer"] == "https://chat.example"
        assert metadata["authorization_endpoint"] == "https://chat.example/oauth/authorize"
    finally:
        await client.close()


async def test_the_metadata_advertises_exactly_the_grants_the_token_endpoint_accepts(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    metadata = await (await client.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["scopes_supported"] == ["openid", "profile", "email", "offline_access", "api"]
    for grant_type in metadata["grant_types_supported"]:
        # Accepted: the grant itself answers (its own parameter is missing), or it is
        # known but not among this app's (client_credentials, RFC 6749 section 5.2).
        response = await client.post(
            "/oauth/token", data={"grant_type": grant_type}, headers=basic(app)
        )
        body = await response.json()
        if grant_type == "client_credentials":
            assert (response.status, body["error"]) == (400, "unauthorized_client")
            continue
        assert (response.status, body["error"]) == (400, "invalid_request"), grant_type
        assert "is required" in body["error_description"]
    for grant_type in ("password", "implicit", "client_credentials", "urn:x"):
        if grant_type in metadata["grant_types_supported"]:
            continue
        response = await client.post(
            "/oauth/token", data={"grant_type": grant_type}, headers=basic(app)
        )
        assert (await response.json())["error"] == "unsupported_grant_type", grant_type


async def test_a_wrong_content_type_on_the_token_endpoint_is_an_rfc_error(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    response = await client.post(
        "/oauth/token", json={"grant_type": "refresh_token"}, headers=basic(app)
    )
    assert response.status == 400
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert body["error"] == "invalid_request"
    assert "application/x-www-form-urlencoded" in body["error_description"]
    assert "success" not in body
