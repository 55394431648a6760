"""RFC 7592's client configuration endpoint over real HTTP, and what the metadata changes."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import orjson
import pytest

from service.config import Settings
from service.domain.oauth2.pkce import PkceMode
from tests.conftest import start_client
from tests.integration.api.test_oauth2 import (
    REDIRECT,
    Client,
    allow,
    authorize_query,
    basic,
    code_for,
    csrf,
    exchange,
    granted,
    pkce,
    register,
    sign_in,
)

RC_APP_KEYS = [
    "name",
    "redirectUri",
    "active",
    "clientId",
    "_createdAt",
    "_updatedAt",
    "_createdBy",
    "_updatedBy",
    "_id",
]
LOGO = "https://cdn.example.test/logo.png"


def registration(app: dict[str, Any]) -> str:
    return f"/oauth/register/{app['clientId']}"


def metadata(**fields: Any) -> dict[str, Any]:
    return {"client_name": "Shop", "redirect_uris": [REDIRECT]} | fields


async def put(client: Client, admin: dict[str, str], app: dict[str, Any], body: Any) -> Any:
    return await client.put(registration(app), json=body, headers=admin)


async def events(db: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT payload FROM outbox ORDER BY seq")
    return [orjson.loads(row["payload"]) for row in rows]


async def test_an_app_made_by_create_has_the_default_metadata_and_no_secret_is_shown(
    client: Client, admin: dict[str, str], settings: Settings
) -> None:
    app = await register(client, admin)
    response = await client.get(registration(app), headers=admin)
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert body == {
        "client_id": app["clientId"],
        "client_id_issued_at": body["client_id_issued_at"],
        "client_name": "<Shop & Co>",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid profile email api",
        "require_pkce": True,
        "access_token_lifetime": None,
        "refresh_token_lifetime": None,
        "post_logout_redirect_uris": [],
        "logo_uri": None,
        "client_uri": None,
        "policy_uri": None,
        "tos_uri": None,
        "contacts": [],
        "registration_client_uri": f"{settings.issuer}/oauth/register/{app['clientId']}",
    }
    created = datetime.fromisoformat(app["_createdAt"]).timestamp()
    assert abs(body["client_id_issued_at"] - created) <= 1
    assert app["clientSecret"] not in await response.text()


async def test_callers_without_credentials_or_permission_get_rfc_6750_errors(
    client: Client, admin: dict[str, str], plain_user: dict[str, str]
) -> None:
    app = await register(client, admin)
    for method in ("GET", "PUT", "DELETE"):
        anonymous = await client.request(method, registration(app))
        assert anonymous.status == 401, method
        assert (await anonymous.json())["error"] == "invalid_token"
        assert anonymous.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        forbidden = await client.request(method, registration(app), headers=plain_user)
        assert forbidden.status == 403, method
        assert (await forbidden.json())["error"] == "insufficient_scope"
        unknown = await client.request(
            method, "/oauth/register/nosuchclient12345", json=metadata(), headers=admin
        )
        assert (unknown.status, (await unknown.json())["error"]) == (401, "invalid_token")
    # None of that changed the app.
    assert (await client.get(registration(app), headers=admin)).status == 200


async def test_put_replaces_the_metadata_and_writes_the_updates_event(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = await register(client, admin)
    body = metadata(
        client_name="Shop 2",
        redirect_uris=[REDIRECT, "https://client.test/other"],
        scope="openid profile",
        require_pkce=False,
        access_token_lifetime=600,
        logo_uri=LOGO,
        contacts=["ops@client.test"],
        application_type="web",  # unknown to the server: ignored (RFC 7591 section 2)
        software_id="4NRB1-0XZABZI9E6-5SM3R",
    )
    response = await put(client, admin, app, body)
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["client_name"] == "Shop 2" and answer["scope"] == "openid profile"
    assert answer["redirect_uris"] == [REDIRECT, "https://client.test/other"]
    assert (answer["require_pkce"], answer["access_token_lifetime"]) == (False, 600)
    assert "application_type" not in answer and "software_id" not in answer
    assert answer == await (await client.get(registration(app), headers=admin)).json()

    # Rocket.Chat's view of the app: the same shape, name and redirectUri changed.
    got = await client.get("/api/v1/oauth-apps.get", params={"_id": app["_id"]}, headers=admin)
    rc_app = (await got.json())["oauthApp"]
    assert list(rc_app) == RC_APP_KEYS
    assert rc_app["name"] == "Shop 2"
    assert rc_app["redirectUri"] == f"{REDIRECT},https://client.test/other"
    listed = await client.get("/api/v1/oauth-apps.list", headers=admin)
    assert [list(each) for each in (await listed.json())["oauthApps"]] == [RC_APP_KEYS]

    # The same event as oauth-apps.update, in the 4.5 shape, the admin its actor.
    last = (await events(db))[-1]
    assert last["type"] == "oauth_app.updated" and last["subject"] == app["_id"]
    assert last["data"]["application"] == rc_app
    assert last["data"]["actor"] == {"_id": admin["X-User-Id"], "username": "math.bar"}

    # PUT replaces: what the next one omits is back to its default.
    again = await (await put(client, admin, app, metadata())).json()
    assert again["scope"] == "openid profile email api" and again["logo_uri"] is None
    assert again["require_pkce"] is True and again["access_token_lifetime"] is None
    assert again["contacts"] == [] and again["redirect_uris"] == [REDIRECT]


async def test_the_registration_read_back_can_be_put_again(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    read = await (await client.get(registration(app), headers=admin)).json()
    response = await put(client, admin, app, read | {"tos_uri": "https://client.test/tos"})
    assert response.status == 200, await response.text()
    assert await response.json() == read | {"tos_uri": "https://client.test/tos"}


@pytest.mark.parametrize(
    ("fields", "error", "words"),
    [
        ({"grant_types": ["implicit"]}, "invalid_client_metadata", "'implicit' is not supported"),
        ({"response_types": ["token"]}, "invalid_client_metadata", "'token' is not supported"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata", "jwt"),
        ({"scope": "openid admin"}, "invalid_client_metadata", "'admin' is not known"),
        ({"require_pkce": "no"}, "invalid_client_metadata", "require_pkce"),
        ({"access_token_lifetime": 0}, "invalid_client_metadata", "access_token_lifetime"),
        ({"refresh_token_lifetime": 1.5}, "invalid_client_metadata", "whole number"),
        ({"logo_uri": "http://cdn.test/l.png"}, "invalid_client_metadata", "must use https"),
        ({"policy_uri": "javascript:alert(1)"}, "invalid_client_metadata", "javascript"),
        ({"client_id": "another"}, "invalid_client_metadata", "client_id"),
        ({"client_secret": "guessed"}, "invalid_client_metadata", "client_secret"),
        ({"client_name": ""}, "invalid_client_metadata", "client_name is required"),
        (
            {"post_logout_redirect_uris": ["https://a.test/#x"]},
            "invalid_client_metadata",
            "fragment",
        ),
        ({"redirect_uris": ["foo"]}, "invalid_redirect_uri", "'foo' is not an absolute URI"),
        ({"redirect_uris": ["https://a.test/a,b"]}, "invalid_redirect_uri", "comma"),
        ({"redirect_uris": []}, "invalid_redirect_uri", "at least one"),
        (
            {"redirect_uris": [f"https://a.test/{n}" for n in range(11)]},
            "invalid_redirect_uri",
            "10",
        ),
    ],
)
async def test_unsupported_metadata_is_refused_and_changes_nothing(
    client: Client,
    admin: dict[str, str],
    db: asyncpg.Connection,
    fields: dict[str, Any],
    error: str,
    words: str,
) -> None:
    app = await register(client, admin)
    response = await put(client, admin, app, metadata(**fields))
    assert response.status == 400
    body = await response.json()
    assert body["error"] == error and words in body["error_description"], body
    assert [event["type"] for event in await events(db)] == ["oauth_app.created"]


async def test_a_body_that_is_not_a_json_object_is_refused(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    listed = await put(client, admin, app, [REDIRECT])
    assert (await listed.json())["error"] == "invalid_client_metadata"
    form = await client.put(registration(app), data={"client_name": "x"}, headers=admin)
    assert (form.status, (await form.json())["error"]) == (400, "invalid_request")


async def test_the_app_s_own_secret_may_be_sent_back(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    response = await put(client, admin, app, metadata(client_secret=app["clientSecret"]))
    assert response.status == 200, await response.text()
    assert app["clientSecret"] not in await response.text()


async def test_delete_removes_the_app_ends_its_grants_and_writes_the_deletes_event(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app, tokens = await granted(client, admin)
    response = await client.delete(registration(app), headers=admin)
    assert response.status == 204 and await response.read() == b""
    got = await client.get("/api/v1/oauth-apps.get", params={"_id": app["_id"]}, headers=admin)
    assert (await got.json())["error"] == "OAuth app not found."
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/oauth/userinfo", headers=bearer)).status == 401
    types = [event["type"] for event in await events(db)]
    assert types[-2:] == ["oauth_grant.revoked", "oauth_app.deleted"]
    deleted = (await events(db))[-1]
    assert list(deleted["data"]["application"]) == [k for k in RC_APP_KEYS if k != "_updatedBy"]
    assert (await client.get(registration(app), headers=admin)).status == 401


async def test_require_pkce_false_lets_that_client_alone_omit_pkce(
    client: Client, admin: dict[str, str]
) -> None:
    custom_oauth, other = await register(client, admin), await register(client, admin)
    assert (await put(client, admin, custom_oauth, metadata(require_pkce=False))).status == 200

    code = await code_for(client, custom_oauth, None)
    response = await exchange(client, custom_oauth, code, None)
    assert response.status == 200, await response.text()

    refused = await client.get(
        "/oauth/authorize", params=authorize_query(other, None), allow_redirects=False
    )
    assert refused.status == 302
    sent = parse_qs(urlsplit(refused.headers["Location"]).query)
    assert sent["error"] == ["invalid_request"]
    # PKCE stays usable, and checked, for the client that may omit it (the user,
    # who allowed it already, is sent straight back with a code).
    _, challenge = pkce()
    again = await client.get(
        "/oauth/authorize", params=authorize_query(custom_oauth, challenge), allow_redirects=False
    )
    code = parse_qs(urlsplit(again.headers["Location"]).query)["code"][0]
    wrong = await exchange(client, custom_oauth, code, pkce()[0])
    assert (await wrong.json())["error"] == "invalid_grant"


async def test_require_pkce_is_oauth_pkce_at_creation_and_an_old_app_follows_the_server(
    settings: Settings, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    lenient = await start_client(dataclasses.replace(settings, oauth_pkce=PkceMode.OPTIONAL))
    strict = await start_client(settings)
    try:
        made_lenient = await register(lenient, admin)
        old = await register(strict, admin)
        # An app from before client metadata: the migration gave it '{}'.
        await db.execute(
            "UPDATE oauth_apps SET client_metadata = '{}' WHERE client_id = $1", old["clientId"]
        )
        for served, expected in ((strict, (False, True)), (lenient, (False, False))):
            read = [
                (await (await served.get(registration(app), headers=admin)).json())["require_pkce"]
                for app in (made_lenient, old)
            ]
            assert tuple(read) == expected
        # Made under OAUTH_PKCE=optional, it may omit PKCE on a strict server too.
        without = await strict.get(
            "/oauth/authorize", params=authorize_query(made_lenient, None), allow_redirects=False
        )
        assert without.status == 200 and 'name="password"' in await without.text()
    finally:
        await lenient.close()
        await strict.close()


async def test_per_client_lifetimes_show_in_expires_in_and_in_the_stored_tokens(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = await register(client, admin)
    body = metadata(access_token_lifetime=120, refresh_token_lifetime=900)
    assert (await put(client, admin, app, body)).status == 200
    verifier, challenge = pkce()
    tokens = await (
        await exchange(client, app, await code_for(client, app, challenge), verifier)
    ).json()
    assert tokens["expires_in"] == 120
    lifetimes = {
        row["kind"]: row["expires_at"] - row["created_at"]
        for row in await db.fetch("SELECT kind, created_at, expires_at FROM oauth_tokens")
    }
    assert lifetimes == {"access": timedelta(seconds=120), "refresh": timedelta(seconds=900)}
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    rotated = await (await client.post("/oauth/token", data=form, headers=basic(app))).json()
    assert rotated["expires_in"] == 120


async def test_the_consent_page_shows_the_logo_and_links_and_allows_only_the_logo_origin(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    body = metadata(
        logo_uri=LOGO + "?v=1&size=64",
        policy_uri="https://client.test/privacy",
        tos_uri="https://client.test/terms",
    )
    assert (await put(client, admin, app, body)).status == 200
    _, challenge = pkce()
    query = authorize_query(app, challenge)
    page = await sign_in(client, query)
    assert f'<img class="client-logo" src="{LOGO}?v=1&amp;size=64"' in page
    assert 'href="https://client.test/privacy"' in page and "Privacy policy" in page
    assert 'href="https://client.test/terms"' in page and "Terms of service" in page
    consent = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    policy = consent.headers["Content-Security-Policy"]
    assert "img-src 'self' https://cdn.example.test;" in policy
    assert (await allow(client, query, page))["code"]

    plain = await register(client, admin)
    plain_query = authorize_query(plain, challenge)
    plain_page = await client.get("/oauth/authorize", params=plain_query, allow_redirects=False)
    assert "client-logo" not in await plain_page.text()
    assert "img-src 'self';" in plain_page.headers["Content-Security-Policy"]


async def test_post_logout_redirect_uris_take_the_browser_back_after_sign_out(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    back = "https://client.test/signed-out"
    assert (await put(client, admin, app, metadata(post_logout_redirect_uris=[back]))).status == 200
    _, challenge = pkce()
    await sign_in(client, authorize_query(app, challenge))
    form = {"client_id": app["clientId"], "post_logout_redirect_uri": back, "state": "s"}
    page = await client.get("/oauth/logout", params=form)
    response = await client.post(
        "/oauth/logout", data=form | {"csrf_token": csrf(await page.text())}, allow_redirects=False
    )
    assert response.status == 302 and response.headers["Location"] == f"{back}?state=s"


async def test_oauth_apps_update_keeps_the_metadata_and_registration_shows_its_change(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    assert (
        await put(client, admin, app, metadata(require_pkce=False, logo_uri=LOGO))
    ).status == 200
    body = {"appId": app["_id"], "name": "Renamed", "redirectUri": REDIRECT, "active": True}
    updated = await client.post("/api/v1/oauth-apps.update", json=body, headers=admin)
    assert updated.status == 200
    read = await (await client.get(registration(app), headers=admin)).json()
    assert read["client_name"] == "Renamed"
    assert (read["require_pkce"], read["logo_uri"]) == (False, LOGO)


async def test_removing_a_scope_from_an_app_ends_the_grants_that_carry_it(
    client: Client, admin: dict[str, str]
) -> None:
    app, tokens = await granted(client, admin)
    assert "api" in tokens["scope"]
    narrowed = await put(client, admin, app, metadata(scope="openid profile email"))
    assert narrowed.status == 200, await narrowed.text()
    refresh = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=basic(app),
    )
    assert (refresh.status, (await refresh.json())["error"]) == (400, "invalid_grant")
    widened = await put(client, admin, app, metadata(scope="openid profile email api"))
    assert widened.status == 200
