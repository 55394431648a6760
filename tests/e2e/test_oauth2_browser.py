"""A real browser (Chromium, driven by Playwright) through the login and consent pages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp import web

from service.domain.oauth2.pkce import s256_challenge
from service.persistence.database import Database
from service.usecases import accounts
from tests.support.browsers import CHROMIUM, chromium, sign_in
from tests.support.http import create_over_http
from tests.support.processes import Stack, free_port

REDIRECT = "http://127.0.0.1:9/callback"  # nothing listens: the browser stops there
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"
)


def authorize_url(base: str, app: dict[str, Any], redirect: str = REDIRECT) -> str:
    query = {
        "response_type": "code",
        "client_id": app["clientId"],
        "redirect_uri": redirect,
        "state": "s1",
        "code_challenge": s256_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    return f"{base}/oauth/authorize?{urlencode(query)}"


@pytest.mark.parametrize("redirect", [REDIRECT, "com.example.app:/oauth2redirect"])
async def test_a_returning_user_signs_in_and_reaches_the_app(
    stack: Stack, admin: dict[str, str], redirect: str
) -> None:
    base = await stack.serve("--no-relay")
    [app] = await create_over_http(base, admin, 1, redirect_uri=redirect)
    async with chromium() as browser:
        first = await browser.new_page(java_script_enabled=False)
        await first.goto(authorize_url(base, app, redirect))
        await sign_in(first)
        async with first.expect_request(lambda r: r.url.startswith(redirect)):
            await first.get_by_role("button", name="Allow").click()
        # Another browser (no session): sign-in, the remembered grant, the app.
        context = await browser.new_context(java_script_enabled=False)
        page = await context.new_page()
        refused: list[str] = []
        page.on("console", lambda message: refused.append(message.text))
        await page.goto(authorize_url(base, app, redirect))
        async with page.expect_request(lambda r: r.url.startswith(redirect)) as caught:
            await sign_in(page)
        assert "code=" in (await caught.value).url
        assert not [text for text in refused if "Content Security Policy" in text]


async def test_a_login_form_posted_from_another_site_changes_no_session(
    stack: Stack, admin: dict[str, str], database: Database
) -> None:
    await accounts.create_user(database, "mallory", "correct horse")
    base = await stack.serve("--no-relay")
    [app] = await create_over_http(base, admin, 1, redirect_uri=REDIRECT)
    target = authorize_url(base, app)
    forged = (
        f'<form method="post" action="{base}/oauth/login">'
        '<input name="username" value="mallory"><input name="password" value="correct horse">'
        f'<input name="next" value="{urlsplit(target).query}"></form>'
        "<script>document.forms[0].submit()</script>"
    )

    async def attacker_page(_: web.Request) -> web.Response:
        return web.Response(text=forged, content_type="text/html")

    attacker = web.Application()
    attacker.router.add_get("/", attacker_page)
    runner = web.AppRunner(attacker)
    await runner.setup()
    port = free_port()
    # localhost and 127.0.0.1 are different sites to a browser.
    await web.TCPSite(runner, "localhost", port).start()
    try:
        async with chromium() as browser:
            page = await browser.new_page()
            await page.goto(target)
            await sign_in(page)  # the victim's own session
            await page.wait_for_selector("text=Allow")
            async with page.expect_response(lambda r: r.url.endswith("/oauth/login")) as caught:
                await page.goto(f"http://localhost:{port}/")
            assert (await caught.value).status == 403
            await page.goto(f"{base}/oauth/logout")
            assert "math.bar" in await page.inner_text("main")  # still the victim's session
    finally:
        await runner.cleanup()


async def test_a_person_signs_in_and_clicks_allow(stack: Stack, admin: dict[str, str]) -> None:
    base = await stack.serve("--no-relay")
    [app] = await create_over_http(base, admin, 1, redirect_uri=REDIRECT, name="Browser <App>")
    async with chromium() as browser:
        page = await browser.new_page(java_script_enabled=False)  # the pages need none
        callbacks: list[str] = []
        page.on(
            "request",
            lambda request: (
                callbacks.append(request.url) if request.url.startswith(REDIRECT) else None
            ),
        )
        await page.goto(authorize_url(base, app))
        await sign_in(page)
        await page.wait_for_selector("text=Allow")
        assert "Browser <App>" in await page.inner_text("h1")  # escaped, shown as text
        assert "127.0.0.1:9" in await page.inner_text("main")
        async with page.expect_request(lambda r: r.url.startswith(REDIRECT)) as caught:
            await page.get_by_role("button", name="Allow").click()
        callback = (await caught.value).url
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


async def the_app(_: web.Request) -> web.Response:
    """The relying party's callback, answered."""
    return web.Response(text="the app")


@contextlib.asynccontextmanager
async def answering_callback() -> AsyncIterator[str]:
    """A callback that answers, so no failed navigation races the next one."""
    site = web.Application()
    site.router.add_get("/callback", the_app)
    runner = web.AppRunner(site)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/callback"
    finally:
        await runner.cleanup()


async def test_a_person_revokes_an_app_on_the_account_page(
    stack: Stack, admin: dict[str, str]
) -> None:
    base = await stack.serve("--no-relay")
    async with answering_callback() as callback, chromium() as browser:
        [app] = await create_over_http(base, admin, 1, redirect_uri=callback, name="Revocable")
        page = await browser.new_page(java_script_enabled=False)
        await page.goto(authorize_url(base, app, callback))
        await sign_in(page)
        await page.get_by_role("button", name="Allow").click()
        await page.wait_for_selector("text=the app")
        await page.goto(f"{base}/account/apps")
        assert "Revocable" in await page.inner_text("main")
        await page.get_by_role("button", name="Revoke Revocable").click()
        await page.wait_for_selector("text=You have not allowed any app yet.")
        assert page.url == f"{base}/account/apps"


AXE = Path(__file__).parent / "rp" / "node_modules" / "axe-core" / "axe.min.js"


async def serious_violations(page: Any) -> list[str]:
    """What axe-core finds of impact serious or critical, at 375 px and at 1200 px."""
    found = []
    for width in (375, 1200):
        await page.set_viewport_size({"width": width, "height": 800})
        await page.add_script_tag(path=AXE)
        result = await page.evaluate("axe.run()")
        assert result["passes"], page.url  # axe ran and checked something
        found += [
            f"{width}px {page.url}: {violation['id']} {violation['help']}"
            for violation in result["violations"]
            if violation["impact"] in ("serious", "critical")
        ]
    return found


@pytest.mark.skipif(not AXE.exists(), reason="needs npm ci --prefix tests/e2e/rp")
async def test_every_page_passes_axe(stack: Stack, admin: dict[str, str]) -> None:
    base = await stack.serve("--no-relay")
    async with answering_callback() as callback, chromium() as browser:
        [app] = await create_over_http(base, admin, 1, redirect_uri=callback, name="Axe")
        # The pages' CSP forbids the injected (inline) script; only the test bypasses it.
        page = await (await browser.new_context(bypass_csp=True)).new_page()
        found = []
        await page.goto(f"{base}/account/apps")
        await page.wait_for_selector("text=You are not signed in")
        found += await serious_violations(page)
        await page.goto(f"{base}/oauth/authorize?client_id=unknown")
        await page.wait_for_selector("text=This request cannot continue")
        found += await serious_violations(page)
        await page.goto(authorize_url(base, app, callback))
        found += await serious_violations(page)  # login
        await sign_in(page)
        await page.wait_for_selector("text=Allow")
        found += await serious_violations(page)  # consent
        await page.get_by_role("button", name="Allow").click()
        await page.wait_for_selector("text=the app")
        await page.goto(f"{base}/account/apps")
        await page.wait_for_selector("text=Revoke")
        found += await serious_violations(page)
        await page.goto(f"{base}/oauth/logout")
        found += await serious_violations(page)  # the confirmation
        await page.get_by_role("button", name="Sign out").click()
        await page.wait_for_selector("text=You are signed out")
        found += await serious_violations(page)
    assert found == []
