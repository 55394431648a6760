"""Third-party OAuth clients (Authlib, requests-oauthlib) against a running ``serve``.

The user's part (sign in, Allow) is played with a plain ``requests`` session as a
browser without JavaScript would; the clients do everything a real integration does:
authorization URL with PKCE S256, code exchange, userinfo, refresh, revocation.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from requests_oauthlib import OAuth2Session as OAuthlibSession
from sqlalchemy.engine import URL

from service.persistence.database import asyncpg_dsn
from tests.support.browsers import browser_consents
from tests.support.http import create_over_http
from tests.support.processes import Stack

REDIRECT = "http://127.0.0.1:9/callback"  # never called: the browser stops at the redirect


@pytest.fixture
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test server speaks plain HTTP on loopback; both libraries insist on HTTPS."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def authlib_flow(base: str, app: dict[str, Any]) -> dict[str, Any]:
    client = AuthlibSession(
        app["clientId"],
        app["clientSecret"],
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = generate_token(48)
    url, _ = client.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    callback = browser_consents(url, base)
    token = client.fetch_token(
        f"{base}/oauth/token", authorization_response=callback, code_verifier=verifier
    )
    info = client.get(f"{base}/oauth/userinfo").json()
    refreshed = client.refresh_token(f"{base}/oauth/token")
    assert refreshed["refresh_token"] != token["refresh_token"]
    revoked = client.revoke_token(
        f"{base}/oauth/revoke", token=refreshed["refresh_token"], token_type_hint="refresh_token"
    )
    assert revoked.status_code == 200
    after = client.post(
        f"{base}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        auth=(app["clientId"], app["clientSecret"]),
    )
    code = parse_qs(urlsplit(callback).query)["code"][0]
    plaintext = [code, token["access_token"], token["refresh_token"], refreshed["access_token"]]
    return {"info": info, "after_revoke": after.status_code, "plaintext": plaintext}


def oauthlib_flow(base: str, app: dict[str, Any]) -> dict[str, Any]:
    client = OAuthlibSession(app["clientId"], redirect_uri=REDIRECT, pkce="S256")
    url, _ = client.authorization_url(f"{base}/oauth/authorize")
    callback = browser_consents(url, base)
    token = client.fetch_token(
        f"{base}/oauth/token",
        authorization_response=callback,
        client_secret=app["clientSecret"],
    )
    info = client.get(f"{base}/oauth/userinfo").json()
    refreshed = client.refresh_token(
        f"{base}/oauth/token", auth=(app["clientId"], app["clientSecret"])
    )
    assert refreshed["refresh_token"] != token["refresh_token"]
    revoked = requests.post(
        f"{base}/oauth/revoke",
        data={"token": refreshed["access_token"]},
        auth=(app["clientId"], app["clientSecret"]),
    )
    assert revoked.status_code == 200
    after = requests.get(
        f"{base}/oauth/userinfo",
        headers={"Authorization": f"Bearer {refreshed['access_token']}"},
    )
    code = parse_qs(urlsplit(callback).query)["code"][0]
    plaintext = [code, token["access_token"], token["refresh_token"], refreshed["access_token"]]
    return {"info": info, "after_revoke": after.status_code, "plaintext": plaintext}


@pytest.mark.parametrize(
    "flow", [authlib_flow, oauthlib_flow], ids=["authlib", "requests-oauthlib"]
)
async def test_a_third_party_client_completes_the_flow(
    stack: Stack,
    admin: dict[str, str],
    insecure_transport: None,
    flow: Any,
    database_url: URL,
) -> None:
    base = await stack.serve("--no-relay")
    [app] = await create_over_http(base, admin, 1, redirect_uri=REDIRECT, name="third-party")
    result = await asyncio.to_thread(flow, base, app)
    assert result["info"]["preferred_username"] == "math.bar"
    assert result["after_revoke"] in (400, 401)  # the revoked token no longer works
    # Nothing of a code, token or secret in a dump of the database or in the logs.
    dump = await asyncio.create_subprocess_exec(
        "pg_dump",
        "--data-only",
        asyncpg_dsn(database_url),
        stdout=asyncio.subprocess.PIPE,
    )
    dumped, _ = await dump.communicate()
    assert dump.returncode == 0 and b"oauth_tokens" in dumped
    logs = stack.log("serve").read_text()
    for secret in [*result["plaintext"], app["clientSecret"]]:
        assert secret.encode() not in dumped and secret not in logs
