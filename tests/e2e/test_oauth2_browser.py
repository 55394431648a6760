"""A real browser (Chromium, driven by Playwright) through the login and consent pages."""

from __future__ import annotations

import shutil
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest

from service.domain.oauth2.pkce import s256_challenge
from tests.support.http import create_over_http
from tests.support.processes import Stack

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REDIRECT = "http://127.0.0.1:9/callback"  # nothing listens: the browser stops there
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"
)


async def test_a_person_signs_in_and_clicks_allow(stack: Stack, admin: dict[str, str]) -> None:
    from playwright.async_api import async_playwright

    base = await stack.serve("--no-relay")
    [app] = await create_over_http(base, admin, 1, redirect_uri=REDIRECT, name="Browser <App>")
    query = {
        "response_type": "code",
        "client_id": app["clientId"],
        "redirect_uri": REDIRECT,
        "state": "s1",
        "code_challenge": s256_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = await browser.new_page(java_script_enabled=False)  # the pages need none
            callbacks: list[str] = []
            page.on(
                "request",
                lambda request: (
                    callbacks.append(request.url) if request.url.startswith(REDIRECT) else None
                ),
            )
            await page.goto(f"{base}/oauth/authorize?{urlencode(query)}")
            await page.get_by_label("Username or email").fill("math.bar")
            await page.get_by_label("Password").fill("correct horse")
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_selector("text=Allow")
            assert "Browser <App>" in await page.inner_text("h1")  # escaped, shown as text
            assert "127.0.0.1:9" in await page.inner_text("main")
            async with page.expect_request(lambda r: r.url.startswith(REDIRECT)) as caught:
                await page.get_by_role("button", name="Allow").click()
            callback = (await caught.value).url
        finally:
            await browser.close()
    sent = parse_qs(urlsplit(callback).query)
    assert sent["state"] == ["s1"] and len(sent["code"][0]) == 43
    async with aiohttp.ClientSession(base) as http:
        form = {
            "grant_type": "authorization_code",
            "code": sent["code"][0],
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
            "client_id": app["clientId"],
            "client_secret": app["clientSecret"],
        }
        async with http.post("/oauth/token", data=form) as response:
            assert response.status == 200, await response.text()
