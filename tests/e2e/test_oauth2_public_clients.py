"""Public clients in a real browser, and machine clients with real libraries, against ``serve``.

A native app: Chromium signs in and is sent to a loopback redirect on a port chosen
at run time, where a tiny HTTP server receives the code. A single-page app: a page on
``localhost:PORT`` (another origin than the service's ``127.0.0.1:PORT2``) exchanges
the code and calls userinfo with fetch, through CORS and its preflight. And
client_credentials with Authlib's client and requests-oauthlib's
``BackendApplicationClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
import requests
from aiohttp import web
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session as OAuthlibSession

from tests.e2e.test_oauth2_browser import CHROMIUM, VERIFIER, authorize_url, chromium, sign_in
from tests.support.http import create_over_http
from tests.support.processes import Stack, free_port

# The single-page app: it reads the code from its URL, exchanges it with its
# client_id alone and calls userinfo with the access token (which needs a preflight).
SPA_PAGE = """<!doctype html><title>spa</title><script>
(async () => {
  const code = new URLSearchParams(location.search).get("code");
  const result = {};
  try {
    const form = new URLSearchParams({grant_type: "authorization_code", code,
      redirect_uri: location.origin + "/cb", client_id: CLIENT_ID, code_verifier: VERIFIER});
    const tokens = await (await fetch(BASE + "/oauth/token", {method: "POST", body: form})).json();
    result.tokens = Object.keys(tokens).sort();
    const info = await fetch(BASE + "/oauth/userinfo",
      {headers: {Authorization: "Bearer " + tokens.access_token}});
    result.userinfo = await info.json();
  } catch (error) {
    result.error = String(error);
  }
  window.result = result;
})();
</script>"""


@contextlib.asynccontextmanager
async def site(
    handler: Any, host: str = "127.0.0.1", port: int | None = None
) -> AsyncIterator[int]:
    """A tiny HTTP server answering every GET with ``handler``; yields its port."""
    application = web.Application()
    application.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(application)
    await runner.setup()
    port = port or free_port()
    await web.TCPSite(runner, host, port).start()
    try:
        yield port
    finally:
        await runner.cleanup()


async def make_public(
    base: str, admin: dict[str, str], app: dict[str, Any], uris: list[str]
) -> None:
    body = {"client_name": "public", "redirect_uris": uris, "token_endpoint_auth_method": "none"}
    async with aiohttp.ClientSession() as http:
        url = f"{base}/oauth/register/{app['clientId']}"
        async with http.put(url, json=body, headers=admin) as response:
            assert response.status == 200, await response.text()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
async def test_a_native_app_receives_the_code_on_a_loopback_port_of_its_choosing(
    stack: Stack, admin: dict[str, str]
) -> None:
    base = await stack.serve("--no-relay")
    [app] = await create_over_http(base, admin, 1, redirect_uri="http://127.0.0.1/callback")
    await make_public(base, admin, app, ["http://127.0.0.1/callback"])
    received: asyncio.Future[dict[str, list[str]]] = asyncio.get_running_loop().create_future()

    async def callback(request: web.Request) -> web.Response:
        if not received.done():
            received.set_result(parse_qs(request.query_string))
        return web.Response(text="You may close this window.")

    async with site(callback) as port, chromium() as browser:
        redirect = f"http://127.0.0.1:{port}/callback"
        page = await browser.new_page(java_script_enabled=False)
        await page.goto(authorize_url(base, app, redirect))
        await sign_in(page)
        await page.get_by_role("button", name="Allow").click()
        query = await asyncio.wait_for(received, timeout=15)
        assert query["state"] == ["s1"] and query["iss"] == [base]
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": redirect,
        "client_id": app["clientId"],
        "code_verifier": VERIFIER,
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/oauth/token", data=form) as response:
            assert response.status == 200, await response.text()
            tokens = await response.json()
        assert tokens["refresh_token"]
        refresh = {"grant_type": "refresh_token", "client_id": app["clientId"]}
        refresh["refresh_token"] = tokens["refresh_token"]
        async with http.post(f"{base}/oauth/token", data=refresh) as response:
            assert response.status == 200, await response.text()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
async def test_a_page_on_another_origin_exchanges_the_code_through_cors(
    stack: Stack, admin: dict[str, str]
) -> None:
    base = await stack.serve("--no-relay")
    spa_port, stranger_port = free_port(), free_port()
    spa = f"http://localhost:{spa_port}"
    [app] = await create_over_http(base, admin, 1, redirect_uri=f"{spa}/cb")
    await make_public(base, admin, app, [f"{spa}/cb"])
    script = {"BASE": base, "CLIENT_ID": app["clientId"], "VERIFIER": VERIFIER}
    constants = "".join(f"const {name} = {json.dumps(value)};" for name, value in script.items())
    html = SPA_PAGE.replace("<script>", f"<script>{constants}", 1)

    async def spa_page(_: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    async def result_of(page: Any) -> dict[str, Any]:
        await page.wait_for_function("window.result !== undefined", timeout=15_000)
        result: dict[str, Any] = await page.evaluate("window.result")
        return result

    async with (
        site(spa_page, "localhost", spa_port),
        site(spa_page, "localhost", stranger_port),
        chromium() as browser,
    ):
        page = await browser.new_page()
        await page.goto(authorize_url(base, app, f"{spa}/cb"))
        await sign_in(page)
        # Allow sends the browser to the app's page, which does the rest itself.
        await page.get_by_role("button", name="Allow").click()
        result = await result_of(page)
        assert page.url.startswith(f"{spa}/cb?code=")
        assert result.get("error") is None, result
        expected = ["access_token", "expires_in", "id_token", "refresh_token", "scope"]
        assert result["tokens"] == [*expected, "token_type"]
        assert result["userinfo"]["preferred_username"] == "math.bar"
        # The same page on an origin that is no app's may not read the answers.
        await page.goto(f"http://localhost:{stranger_port}/cb?code=any")
        assert "Failed to fetch" in (await result_of(page))["error"]
    # Userinfo with a Bearer header was preflighted.
    lines = stack.log("serve").read_text().splitlines()
    assert any('"OPTIONS"' in line and '"/oauth/userinfo"' in line for line in lines)


@pytest.fixture
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test server speaks plain HTTP on loopback; both libraries insist on HTTPS."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def authlib_machine(base: str, app: dict[str, Any]) -> dict[str, Any]:
    client = AuthlibSession(app["clientId"], app["clientSecret"], scope="email")
    token: dict[str, Any] = client.fetch_token(
        f"{base}/oauth/token", grant_type="client_credentials"
    )
    return token


def oauthlib_machine(base: str, app: dict[str, Any]) -> dict[str, Any]:
    client = OAuthlibSession(client=BackendApplicationClient(client_id=app["clientId"]))
    token: dict[str, Any] = client.fetch_token(
        f"{base}/oauth/token",
        client_id=app["clientId"],
        client_secret=app["clientSecret"],
        scope=["email"],
    )
    return token


@pytest.mark.parametrize(
    "fetch", [authlib_machine, oauthlib_machine], ids=["authlib", "requests-oauthlib"]
)
async def test_a_backend_gets_a_client_credentials_token(
    stack: Stack, admin: dict[str, str], insecure_transport: None, fetch: Any
) -> None:
    base = await stack.serve("--no-relay")
    [app] = await create_over_http(base, admin, 1, name="backend")
    body = {
        "client_name": "backend",
        "redirect_uris": ["https://a.test/cb"],
        "grant_types": ["client_credentials"],
    }
    async with aiohttp.ClientSession() as http:
        url = f"{base}/oauth/register/{app['clientId']}"
        async with http.put(url, json=body, headers=admin) as response:
            assert response.status == 200, await response.text()
    token = await asyncio.to_thread(fetch, base, app)
    assert token["token_type"] == "Bearer" and token["scope"] in ("email", ["email"])
    assert "refresh_token" not in token and "id_token" not in token
    introspected = await asyncio.to_thread(
        requests.post,
        f"{base}/oauth/introspect",
        data={"token": token["access_token"]},
        auth=(app["clientId"], app["clientSecret"]),
    )
    assert introspected.json()["sub"] == app["clientId"]
    me = await asyncio.to_thread(
        requests.get,
        f"{base}/api/v1/me",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert me.status_code == 401
