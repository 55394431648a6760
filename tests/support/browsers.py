"""The user's part of an authorization: a browser without JavaScript, or Debian's Chromium."""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

PASSWORD = "correct horse"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def browser_consents(authorization_url: str, base: str, username: str = "math.bar") -> str:
    """Sign in and click Allow, as a person would; return the redirect with the code."""
    browser = requests.Session()
    login_page = browser.get(authorization_url)
    assert login_page.status_code == 200, login_page.text
    query = urlsplit(authorization_url).query
    login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', login_page.text)
    assert login_csrf is not None, login_page.text
    consent = browser.post(
        f"{base}/oauth/login",
        data={
            "username": username,
            "password": PASSWORD,
            "next": query,
            "login_csrf": login_csrf.group(1),
        },
    )
    assert consent.status_code == 200, consent.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', consent.text)
    assert token is not None, consent.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
    answer = browser.post(
        f"{base}/oauth/authorize", data=fields | {"decision": "allow"}, allow_redirects=False
    )
    assert answer.status_code == 302, answer.text
    location: str = answer.headers["Location"]
    [redirect] = parse_qs(query)["redirect_uri"]
    assert location.startswith(redirect + "?code=")
    return location


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, with none of its calls home (the network is closed)."""
    from playwright.async_api import async_playwright

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
            yield browser
        finally:
            await browser.close()


async def sign_in(page: Any, username: str = "math.bar") -> None:
    """Fill in and send the login page."""
    await page.get_by_label("Username or email").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
