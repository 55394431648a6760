"""Authorize with OpenID Connect's parameters (Core 1.0 section 3.1.2.1), over real HTTP.

Named after the OpenID Foundation's Basic OP test modules they stand in for.
"""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

from tests.integration.api.test_oauth2 import (
    PASSWORD,
    Client,
    allow,
    authorize_query,
    login_form,
    pkce,
    register,
    sign_in,
)


async def answer(client: Client, query: dict[str, str], post: bool = False) -> tuple[int, str]:
    """The status and either the page or the redirect's query."""
    if post:
        response = await client.post("/oauth/authorize", data=query, allow_redirects=False)
    else:
        response = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    if response.status == 302:
        return 302, urlsplit(response.headers["Location"]).query
    return response.status, await response.text()


def error_of(query: str) -> str:
    return parse_qs(query)["error"][0]


async def test_oidcc_prompt_none_not_logged_in(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    status, sent = await answer(client, authorize_query(app, pkce()[1]) | {"prompt": "none"})
    assert status == 302 and error_of(sent) == "login_required"


async def test_oidcc_prompt_none_logged_in(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1]) | {"scope": "openid"}
    page = await sign_in(client, query)
    status, sent = await answer(client, query | {"prompt": "none"})
    assert status == 302 and error_of(sent) == "consent_required"  # not allowed yet
    await allow(client, query, page)
    status, sent = await answer(client, query | {"prompt": "none"})
    assert status == 302 and "code" in parse_qs(sent)


async def test_oidcc_prompt_login(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1])
    await allow(client, query, await sign_in(client, query))
    status, page = await answer(client, query | {"prompt": "login"})
    assert status == 200 and 'name="password"' in page
    # Signing in again goes on to the app (no loop): the password was just typed.
    again = await login_form(client, query | {"prompt": "login"}, "math.bar", PASSWORD)
    login = await client.post("/oauth/login", data=again, allow_redirects=False)
    assert "prompt" not in login.headers["Location"]
    status, sent = await answer(client, dict(parse_qsl(urlsplit(login.headers["Location"]).query)))
    assert status == 302 and "code" in parse_qs(sent)


async def test_oidcc_prompt_consent_shows_consent_even_when_remembered(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1])
    await allow(client, query, await sign_in(client, query))
    status, page = await answer(client, query | {"prompt": "consent"})
    assert status == 200 and "Allow" in page


async def test_oidcc_max_age_0_asks_for_the_password_again(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1])
    await allow(client, query, await sign_in(client, query))
    status, page = await answer(client, query | {"max_age": "0"})
    assert status == 200 and 'name="password"' in page
    status, _ = await answer(client, query | {"max_age": "3600"})
    assert status == 302  # signed in within the hour, grant remembered
    status, sent = await answer(client, query | {"max_age": "soon"})
    assert status == 302 and error_of(sent) == "invalid_request"


async def test_oidcc_login_hint_fills_the_user_name(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    status, page = await answer(client, authorize_query(app, pkce()[1]) | {"login_hint": "m.b"})
    assert status == 200 and 'value="m.b"' in page


async def test_oidcc_request_objects_are_refused(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1])
    for name, error in (
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
    ):
        status, sent = await answer(client, query | {name: "eyJhbGciOiJub25lIn0.e30."})
        assert status == 302 and error_of(sent) == error


async def test_oidcc_unknown_and_tolerated_parameters_are_ignored(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    extra = {"display": "page", "ui_locales": "fr", "acr_values": "1", "extra": "x"}
    status, page = await answer(client, authorize_query(app, pkce()[1]) | extra)
    assert status == 200 and 'name="password"' in page


async def test_oidcc_ensure_post_request_succeeds(client: Client, admin: dict[str, str]) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1])
    await allow(client, query, await sign_in(client, query))
    status, sent = await answer(client, query, post=True)
    assert status == 302 and "code" in parse_qs(sent)


async def test_a_max_age_or_nonce_that_cannot_be_is_invalid_request_never_500(
    client: Client, admin: dict[str, str]
) -> None:
    app = await register(client, admin)
    query = authorize_query(app, pkce()[1])
    for bad in ({"max_age": "9" * 5000}, {"max_age": "9" * 16}, {"nonce": "a\x00b"}):
        for post in (False, True):
            status, sent = await answer(client, query | bad, post=post)
            assert status == 302 and error_of(sent) == "invalid_request", bad
    await allow(client, query, await sign_in(client, query))
    status, sent = await answer(client, query | {"max_age": "9" * 16})
    assert status == 302 and error_of(sent) == "invalid_request"
