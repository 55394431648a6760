"""The pages of the authorization flow against what an attacker or a hostile app tries."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest

from service.config import Settings
from service.domain.redirect_uris import RedirectUriPolicy
from tests.conftest import start_client
from tests.integration.api.test_oauth2 import (
    PASSWORD,
    Client,
    authorize_query,
    csrf,
    login_form,
    pkce,
    register,
    sign_in,
)

NATIVE = "com.example.app:/oauth2redirect"


def query_for(app: dict[str, Any], redirect: str) -> dict[str, str]:
    _, challenge = pkce()
    return authorize_query(app, challenge) | {"redirect_uri": redirect}


async def sessions_of(db: asyncpg.Connection, username: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM web_sessions s JOIN users u ON u.id = s.user_id"
            " WHERE u.username = $1",
            username,
        )
    )


async def test_a_login_form_without_its_token_signs_no_one_in(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1])
    forged = {"username": "math.bar", "password": PASSWORD, "next": urlencode(query)}
    response = await client.post("/oauth/login", data=forged, allow_redirects=False)
    assert response.status == 403
    assert "oauth_session" not in response.headers.get("Set-Cookie", "")
    assert "came from another site" in await response.text()
    assert await sessions_of(db, "math.bar") == 0


async def test_a_login_form_posted_from_another_site_is_refused_even_with_its_token(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = await register(client, admin)
    form = await login_form(client, authorize_query(app, pkce()[1]), "math.bar", PASSWORD)
    response = await client.post(
        "/oauth/login",
        data=form,
        headers={"Sec-Fetch-Site": "cross-site"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert await sessions_of(db, "math.bar") == 0
    same_site = await client.post(
        "/oauth/login",
        data=form,
        headers={"Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
    )
    assert same_site.status == 303


@pytest.mark.parametrize(
    ("redirect", "source"),
    [("https://client.test/cb", "https://client.test"), (NATIVE, "com.example.app:")],
)
async def test_the_login_and_consent_pages_let_the_browser_reach_the_redirect_uri(
    client: Client, admin: dict[str, str], redirect: str, source: str
) -> None:
    app = await register(client, admin, redirect=redirect)
    query = query_for(app, redirect)
    login = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    policy = login.headers["Content-Security-Policy"]
    assert f"form-action 'self' {source}" in policy
    await sign_in(client, query)
    consent = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    assert "Allow" in await consent.text()
    assert consent.headers["Content-Security-Policy"] == policy


async def test_the_csp_names_a_non_ascii_host_in_punycode_and_nothing_else(
    client: Client, admin: dict[str, str]
) -> None:
    redirect = "https://bücher.example/cb;script-src"
    app = await register(client, admin, redirect=redirect)
    login = await client.get("/oauth/authorize", params=query_for(app, redirect))
    policy = login.headers["Content-Security-Policy"]
    assert policy.endswith("form-action 'self' https://xn--bcher-kva.example")


@pytest.mark.parametrize(
    "hostile",
    ["javascript:alert(1)//", "data:text/html;base64", "vbscript:x", "file:///etc/passwd"],
)
async def test_an_app_stored_with_a_dangerous_scheme_is_never_redirected_to(
    settings: Settings, admin: dict[str, str], hostile: str
) -> None:
    client = await start_client(
        dataclasses.replace(settings, redirect_uri_policy=RedirectUriPolicy.NONE)
    )
    try:
        app = await register(client, admin, redirect=hostile)
        query = query_for(app, hostile) | {"response_type": "token"}  # an error to send back
        response = await client.get("/oauth/authorize", params=query, allow_redirects=False)
        assert response.status == 400
        assert "Location" not in response.headers
        assert "safely sent to" in await response.text()
    finally:
        await client.close()


@pytest.mark.parametrize("unparseable", ["https://[::1/cb", "https://a.test:99999/cb", "foo"])
async def test_an_app_stored_with_an_unparseable_uri_gets_an_error_page_never_a_500(
    settings: Settings, admin: dict[str, str], unparseable: str
) -> None:
    client = await start_client(
        dataclasses.replace(settings, redirect_uri_policy=RedirectUriPolicy.NONE)
    )
    try:
        app = await register(client, admin, redirect=unparseable)
        query = query_for(app, unparseable)
        for response in (
            await client.get("/oauth/authorize", params=query, allow_redirects=False),
            await client.post("/oauth/authorize", data=query, allow_redirects=False),
        ):
            assert response.status == 400 and "Location" not in response.headers
            assert "safely sent to" in await response.text()
    finally:
        await client.close()


@pytest.mark.parametrize("client_id", ["\x00", "a\x00b", "abc\x1f"])
async def test_control_characters_in_client_id_are_refused_never_500(
    client: Client, admin: dict[str, str], client_id: str
) -> None:
    page = await client.get("/oauth/authorize", params={"client_id": client_id})
    assert page.status == 400 and "text/html" in page.headers["Content-Type"]
    posted = await client.post("/oauth/authorize", data={"client_id": client_id})
    assert posted.status == 400
    basic = base64.b64encode(f"{client_id}:secret".encode()).decode()
    for path in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
        in_body = await client.post(
            path, data={"client_id": client_id, "client_secret": "s", "token": "t"}
        )
        assert (in_body.status, (await in_body.json())["error"]) == (401, "invalid_client")
        in_basic = await client.post(
            path, data={"token": "t"}, headers={"Authorization": f"Basic {basic}"}
        )
        assert (in_basic.status, (await in_basic.json())["error"]) == (401, "invalid_client")


async def test_a_new_password_login_ends_the_previous_session(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1])
    await sign_in(client, query)
    jar = client.session.cookie_jar
    first = jar.filter_cookies(client.make_url("/oauth"))["oauth_session"].value
    jar.clear(lambda cookie: cookie.key == "oauth_session")
    form = await login_form(client, query, "math.bar", PASSWORD)
    again = await client.post(
        "/oauth/login", data=form, cookies={"oauth_session": first}, allow_redirects=False
    )
    assert again.status == 303
    assert await sessions_of(db, "math.bar") == 1  # the first one ended
    jar.clear(lambda cookie: cookie.key == "oauth_session")
    old = await client.get(
        "/oauth/authorize", params=query, cookies={"oauth_session": first}, allow_redirects=False
    )
    assert 'name="password"' in await old.text()  # the first session no longer signs in


async def test_logout_asks_then_ends_the_page_session(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1])
    await sign_in(client, query)
    confirm = await client.get("/oauth/logout")
    page = await confirm.text()
    assert confirm.status == 200 and "Sign out?" in page
    assert confirm.headers["X-Frame-Options"] == "DENY"
    forged = await client.post("/oauth/logout", data={"csrf_token": "x" * 43})
    assert forged.status == 403 and await sessions_of(db, "math.bar") == 1
    done = await client.post("/oauth/logout", data={"csrf_token": csrf(page)})
    assert done.status == 200 and "You are signed out" in await done.text()
    assert await sessions_of(db, "math.bar") == 0
    again = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    assert 'name="password"' in await again.text()
    assert "You are signed out" in await (await client.get("/oauth/logout")).text()


async def test_two_approvals_at_once_make_one_grant_and_two_codes(
    client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1])
    page = await sign_in(client, query)
    form = query | {"csrf_token": csrf(page), "decision": "allow"}
    answers = await asyncio.gather(
        *(client.post("/oauth/authorize", data=form, allow_redirects=False) for _ in range(4))
    )
    assert [answer.status for answer in answers] == [302] * 4
    assert await db.fetchval("SELECT count(*) FROM oauth_grants") == 1
    assert await db.fetchval("SELECT count(*) FROM oauth_codes") == 4
    created = "SELECT count(*) FROM outbox WHERE event_type = 'oauth_grant.created'"
    assert await db.fetchval(created) == 1
