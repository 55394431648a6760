"""Relying parties that are not ours, against a running ``serve``: the OpenID provider proven.

Each test is named after the OpenID Foundation Basic/Config OP test modules it covers.
The user's part (sign in, Allow) is a ``requests`` session, as in test_oauth2_clients.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

from service.persistence.database import Database
from service.usecases import accounts
from tests.support.browsers import PASSWORD, browser_consents
from tests.support.http import change_metadata, create_over_http
from tests.support.processes import Stack

REDIRECT = "http://127.0.0.1:9/callback"  # never called: the browser stops at the redirect
RP = Path(__file__).parent / "rp"
NODE = shutil.which("node")


async def verified_user(database: Database) -> str:
    """A user whose address is known to be theirs; return its id."""
    profile = await accounts.create_user(
        database, "alice", PASSWORD, email="alice@example.test", email_verified=True
    )
    return profile.id


@pytest.mark.skipif(
    NODE is None or not (RP / "node_modules" / "openid-client").is_dir(),
    reason="needs node and `npm ci --prefix tests/e2e/rp` (.ci/run does both)",
)
async def test_oidcc_server_and_refresh_token_with_panvas_openid_client(
    stack: Stack, admin: dict[str, str], database: Database
) -> None:
    """Discovery, PKCE, nonce, state, the ID token's signature and claims, userinfo, refresh."""
    user_id = await verified_user(database)
    base = await stack.serve("--no-relay")
    [app] = await create_over_http(base, admin, 1, redirect_uri=REDIRECT, name="openid-client")
    assert NODE is not None
    node = await asyncio.create_subprocess_exec(
        NODE,
        str(RP / "rp.mjs"),
        base,
        app["clientId"],
        app["clientSecret"],
        REDIRECT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert node.stdin is not None and node.stdout is not None
    try:
        first = await asyncio.wait_for(node.stdout.readline(), 30)
        assert first, (await node.communicate())[1].decode()
        url = json.loads(first)["authorization_url"]
        sent = parse_qs(urlsplit(url).query)
        assert sent["code_challenge_method"] == ["S256"] and "nonce" in sent and "state" in sent
        callback = await asyncio.to_thread(browser_consents, url, base, "alice")
        output, errors = await asyncio.wait_for(node.communicate(f"{callback}\n".encode()), 30)
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
    assert node.returncode == 0, errors.decode()
    result = json.loads(output)
    claims = result["claims"]
    assert result["issuer"] == base and claims["iss"] == base
    assert claims["sub"] == user_id and claims["aud"] == app["clientId"]
    assert claims["nonce"] == sent["nonce"][0]
    assert claims["email"] == "alice@example.test" and claims["email_verified"] is True
    assert result["jwks_fetched"]  # the signature was checked against jwks_uri
    assert result["userinfo"] == {
        "sub": user_id,
        "name": "alice",
        "preferred_username": "alice",
        "preffered_username": "alice",
        "updated_at": result["userinfo"]["updated_at"],
        "email": "alice@example.test",
        "email_verified": True,
    }
    assert result["refresh_token_rotated"]
    assert result["refreshed_claims"]["sub"] == user_id
    assert "nonce" not in result["refreshed_claims"]


def authlib_relying_party(base: str, app: dict[str, Any]) -> dict[str, Any]:
    """Authlib's OpenID client: discovery, code + PKCE + nonce, the ID token, userinfo.

    It validates with Authlib's own JOSE code, not the joserfc the server signs with.
    """
    config = requests.get(f"{base}/.well-known/openid-configuration").json()
    client = OAuth2Session(
        app["clientId"],
        app["clientSecret"],
        scope="openid profile email",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
    )
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = client.create_authorization_url(
        config["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback = browser_consents(url, base)
    assert parse_qs(urlsplit(callback).query)["iss"] == [config["issuer"]]  # RFC 9207
    token = client.fetch_token(
        config["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    keys = JsonWebKey.import_key_set(requests.get(config["jwks_uri"]).json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": config["issuer"]},
            "aud": {"essential": True, "value": app["clientId"]},
        },
        claims_params={
            "nonce": nonce,
            "client_id": app["clientId"],
            "access_token": token["access_token"],
        },
    )
    claims.validate()  # exp, iat, nonce, azp, at_hash
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    endpoint = config["userinfo_endpoint"]
    return {
        "claims": dict(claims),
        "header": dict(claims.header),
        "userinfo_get": requests.get(endpoint, headers=bearer).json(),
        "userinfo_post_header": requests.post(endpoint, headers=bearer).json(),
        "userinfo_post_body": requests.post(
            endpoint, data={"access_token": token["access_token"]}
        ).json(),
    }


async def test_oidcc_server_and_userinfo_get_post_header_post_body_with_authlib(
    stack: Stack, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Authlib validates the ID token (iss, aud, nonce, at_hash) and reads userinfo three ways."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP on loopback
    base = await stack.serve("--no-relay")
    [app] = await create_over_http(base, admin, 1, redirect_uri=REDIRECT, name="authlib")
    result = await asyncio.to_thread(authlib_relying_party, base, app)
    assert result["header"]["alg"] == "RS256" and result["header"]["kid"]
    claims = result["claims"]
    assert claims["preferred_username"] == "math.bar" and claims["azp"] == app["clientId"]
    assert claims["email_verified"] is False  # as the admin fixture stored it
    info = result["userinfo_get"]
    assert info["sub"] == claims["sub"] and info["email"] == "math.bar@example.test"
    assert result["userinfo_post_header"] == info == result["userinfo_post_body"]


ROCKET_CHAT = "http://127.0.0.1:9"  # the chat that signs its users in here; never called
CALLBACK = f"{ROCKET_CHAT}/_oauth/ourchat"  # OAuth._redirectUri(name) for a service "ourchat"
USER_AGENT = "Meteor/3.0.4"


def encode_uri_component(value: str) -> str:
    """JavaScript's encodeURIComponent, with which Rocket.Chat builds the login URL."""
    return quote(value, safe="!'()*")


def rocket_chat_signs_in(base: str, app: dict[str, Any], token_sent_via: str) -> dict[str, Any]:
    """Rocket.Chat's Custom OAuth, request by request as its source sends them.

    apps/meteor/app/custom-oauth/client/CustomOAuth.ts builds the login URL (no PKCE);
    server/custom_oauth_server.js getAccessToken and getIdentity make the two calls.
    """
    # Meteor's OAuth._stateParam: base64 of JSON, padding and all.
    meteor_state = {
        "loginStyle": "redirect",
        "credentialToken": secrets.token_urlsafe(32),
        "isCordova": False,
        "redirectUrl": f"{ROCKET_CHAT}/home",
    }
    state = base64.b64encode(json.dumps(meteor_state).encode()).decode()
    login_url = (
        f"{base}/oauth/authorize?client_id={app['clientId']}"
        f"&redirect_uri={encode_uri_component(CALLBACK)}&response_type=code"
        f"&state={encode_uri_component(state)}&scope={encode_uri_component('openid profile email')}"
    )
    query = parse_qs(urlsplit(browser_consents(login_url, base)).query)
    assert query["state"] == [state]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
    }
    params = {
        "code": query["code"][0],
        "redirect_uri": CALLBACK,
        "grant_type": "authorization_code",
        "state": query["state"][0],
    }
    # "Only send clientID / secret once on header or payload."
    if token_sent_via == "header":
        pair = f"{app['clientId']}:{app['clientSecret']}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
    else:
        params |= {"client_secret": app["clientSecret"], "client_id": app["clientId"]}
    token = requests.post(f"{base}/oauth/token", headers=headers, data=params)
    assert token.ok, token.text
    response = token.json()
    assert "error" not in response
    identity = requests.get(
        f"{base}/oauth/userinfo",
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Authorization": f"Bearer {response['access_token']}",
        },
    )
    assert identity.ok, identity.text
    # What "Identity Token Sent Via: Payload" would send (serverFetch's params: the query).
    in_query = requests.get(
        f"{base}/oauth/userinfo", params={"access_token": response["access_token"]}
    )
    return {"token": response, "identity": identity.json(), "in_query": in_query.status_code}


@pytest.mark.parametrize("token_sent_via", ["header", "payload"])
async def test_rocket_chat_custom_oauth_signs_in_without_pkce_where_the_app_allows_it(
    stack: Stack, admin: dict[str, str], token_sent_via: str
) -> None:
    """Rocket.Chat's login: its own requests, for an app with ``require_pkce: false`` only."""
    base = await stack.serve("--no-relay")
    rocket_chat, other = await create_over_http(base, admin, 2, redirect_uri=CALLBACK)
    changed = await change_metadata(base, admin, rocket_chat["clientId"], require_pkce=False)
    assert changed["require_pkce"] is False
    result = await asyncio.to_thread(rocket_chat_signs_in, base, rocket_chat, token_sent_via)
    token, identity = result["token"], result["identity"]
    assert token["token_type"] == "Bearer" and int(token["expires_in"]) == 3600
    assert token["refresh_token"] and token["id_token"]  # kept as serviceData
    # What Rocket.Chat's normalizers and fields read: sub → id (its "Keycloak" rule, as
    # neither id nor _id is there), username and email by the fields the admin set, name.
    assert result["in_query"] == 401  # hence "Identity Token Sent Via: Header"
    assert "id" not in identity and "_id" not in identity
    assert identity["preferred_username"] == "math.bar" == identity["name"]
    assert identity["email"] == "math.bar@example.test"
    assert not [name for name in identity if "." in name]  # nothing for it to rename
    async with (
        aiohttp.ClientSession(base, headers=admin) as http,
        http.get("/api/v1/me") as response,
    ):
        assert identity["sub"] == (await response.json())["_id"]
    # The same login URL for an app that still requires PKCE: refused, at the redirect.
    refused = await asyncio.to_thread(
        requests.get,
        f"{base}/oauth/authorize?client_id={other['clientId']}&redirect_uri="
        f"{encode_uri_component(CALLBACK)}&response_type=code&state=s&scope=openid",
        allow_redirects=False,
    )
    assert refused.status_code == 302
    answer = parse_qs(urlsplit(refused.headers["Location"]).query)
    assert answer["error"] == ["invalid_request"] and answer["state"] == ["s"]
    assert "code_challenge" in answer["error_description"][0]
