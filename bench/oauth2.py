"""The token endpoint's levels, run by bench/run.py on the same service as the creates.

Refresh-token grants/s, plain and with ``openid`` (an ID token signed per refresh),
and introspections/s with closed-loop clients at each concurrency, with p50/p99; then
each at half of its peak rate (open loop) for the p99 target.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import asyncpg

from bench.environment import PASSWORD, ROOT, Service, percentile, vacuum_if_autovacuum_is_off
from bench.levels import Operation, WrkResult, closed_loop, open_loop, wrk

REDIRECT = "https://bench.test/cb"
# The scope of each refresh level's families: "refresh grant" is what an integration
# that only calls the chat API asks for (no ID token, the figure the targets have always
# used); "refresh grant openid" signs an ID token with every refresh.
REFRESH_SCOPES = {"refresh grant": "api", "refresh grant openid": "openid profile email api"}
PLAIN = "refresh grant"


class Flows:
    """An app, a signed-in browser session, and chains of refresh tokens per client."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base = base
        self.headers = headers
        # Per refresh level, each client's refresh token and its family's live access token.
        self.refresh: dict[str, dict[int, str]] = {name: {} for name in REFRESH_SCOPES}
        self.access: dict[str, dict[int, str]] = {name: {} for name in REFRESH_SCOPES}

    async def setup(self) -> None:
        async with aiohttp.ClientSession(self.base) as http:
            body = {"name": "bench-oauth", "redirectUri": REDIRECT, "active": True}
            async with http.post(
                "/api/v1/oauth-apps.create", json=body, headers=self.headers
            ) as response:
                app = (await response.json())["application"]
        raw = f"{app['clientId']}:{app['clientSecret']}".encode()
        self.client_id = app["clientId"]
        self.basic = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(self.base, cookie_jar=jar) as browser:
            # Every scope the levels ask for, so that each later authorization is remembered.
            verifier, query = self._query(REFRESH_SCOPES["refresh grant openid"])
            async with browser.get("/oauth/authorize", params=query) as login:
                login_page = await login.text()
            [login_csrf] = re.findall(r'name="login_csrf" value="([^"]+)"', login_page)
            form = {
                "username": "bench",
                "password": PASSWORD,
                "next": urlencode(query),
                "login_csrf": login_csrf,
            }
            async with browser.post("/oauth/login", data=form) as consent:
                page = await consent.text()
            fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page))
            async with browser.post(
                "/oauth/authorize", data=fields | {"decision": "allow"}, allow_redirects=False
            ) as answer:
                await self._exchange(answer.headers["Location"], verifier)
        self.browser = jar
        for name in REFRESH_SCOPES:
            await self.renew_refresh_tokens(name)

    async def renew_refresh_tokens(self, name: str) -> None:
        """Token pairs of level ``name``, each of a family of its own: twice the most clients.

        The plain level's access tokens are the ones the introspection levels ask about.
        wrk's pool needs the slack: it may ask for the next request of a connection
        before the answer that returns a token to the pool has been read, and with
        exactly one token per connection the pool then ran dry (30-100 placeholder
        requests, counted as errors, per 10 s at 64 connections).
        """
        async with aiohttp.ClientSession(self.base, cookie_jar=self.browser) as browser:
            for worker in range(128):  # the grant is remembered: codes come at once
                verifier, query = self._query(REFRESH_SCOPES[name])
                async with browser.get(
                    "/oauth/authorize", params=query, allow_redirects=False
                ) as answer:
                    tokens = await self._exchange(answer.headers["Location"], verifier)
                assert ("id_token" in tokens) == (name != PLAIN), tokens
                self.refresh[name][worker] = tokens["refresh_token"]
                self.access[name][worker] = tokens["access_token"]

    def _query(self, scope: str) -> tuple[str, dict[str, str]]:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return verifier, {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }

    async def _exchange(self, location: str, verifier: str) -> dict[str, Any]:
        code = parse_qs(urlsplit(location).query)["code"][0]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        }
        async with (
            aiohttp.ClientSession(self.base) as http,
            http.post("/oauth/token", data=form, headers=self.basic) as response,
        ):
            result: dict[str, Any] = await response.json()
            return result

    def refresh_grant(self, name: str) -> Operation:
        """The refresh grant of level ``name``, one client's chain per worker."""
        refresh, access = self.refresh[name], self.access[name]

        async def operation(http: aiohttp.ClientSession, worker: int) -> bool:
            form = {"grant_type": "refresh_token", "refresh_token": refresh[worker]}
            async with http.post("/oauth/token", data=form, headers=self.basic) as response:
                if response.status != 200:
                    return False
                tokens = await response.json()
                refresh[worker] = tokens["refresh_token"]
                access[worker] = tokens["access_token"]
                return ("id_token" in tokens) == (name != PLAIN)

        return operation

    async def introspection(self, http: aiohttp.ClientSession, worker: int) -> bool:
        access = self.access[PLAIN]
        form = {"token": access[worker % len(access)]}
        async with http.post("/oauth/introspect", data=form, headers=self.basic) as response:
            return response.status == 200 and (await response.json())["active"] is True


# wrk's scripts. A refresh token is good once: each answer's new token goes back into
# the pool that the next request (on whichever connection) takes its token from.
REFRESH_SCRIPT = """
local tokens = {{}}
for line in io.lines("{tokens}") do table.insert(tokens, line) end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "{authorization}"

function request()
  local token = table.remove(tokens) or "exhausted"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  if status == 200 then
    table.insert(tokens, body:match('"refresh_token":"([^"]+)"'))
  end
end
"""

# Each request introspects the next of the families' access tokens: a resource server
# sees many users' tokens, and the same token in every request of a batch would make
# the batched lookup look cheaper than it is.
INTROSPECT_SCRIPT = """
local tokens = {{}}
for line in io.lines("{tokens}") do table.insert(tokens, line) end
local next_token = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "{authorization}"

function request()
  next_token = next_token % #tokens + 1
  return wrk.format(nil, nil, nil, "token=" .. tokens[next_token])
end
"""


class WrkFlows:
    """The token levels driven by wrk, from the tokens a ``Flows`` obtained."""

    def __init__(self, base: str, flows: Flows) -> None:
        self.base = base
        self.flows = flows
        self.directory = ROOT / "bench" / "results"
        self.directory.mkdir(exist_ok=True)

    async def run(self, name: str, concurrency: int, seconds: float) -> WrkResult:
        authorization = self.flows.basic["Authorization"]
        script = self.directory / f"{name.replace(' ', '-')}.lua"
        if name in REFRESH_SCOPES:
            pool = self.directory / f"{name.replace(' ', '-')}-tokens.txt"
            pool.write_text("\n".join(self.flows.refresh[name].values()) + "\n")
            script.write_text(REFRESH_SCRIPT.format(tokens=pool, authorization=authorization))
            result = await wrk(f"{self.base}/oauth/token", script, concurrency, seconds)
            # The tokens the run ended with are lost to this process: take fresh ones.
            await self.flows.renew_refresh_tokens(name)
            return result
        pool = self.directory / "access-tokens.txt"
        pool.write_text("\n".join(self.flows.access[PLAIN].values()) + "\n")
        script.write_text(INTROSPECT_SCRIPT.format(tokens=pool, authorization=authorization))
        return await wrk(f"{self.base}/oauth/introspect", script, concurrency, seconds)


async def measure(
    service: Service,
    headers: dict[str, str],
    db: asyncpg.Connection,
    concurrencies: list[int],
    seconds: float,
    *,
    client: str,
) -> list[dict[str, Any]]:
    """Measure refresh grants (plain, openid) and introspections: one row per level.

    With wrk, the half-peak level is the concurrency whose rate in a 2 s probe comes
    closest to half of the peak (as for creates); with the Python client, an open loop
    at exactly half of the peak.
    """
    flows = Flows(service.base, headers)
    await flows.setup()
    rows: list[dict[str, Any]] = []

    def add(
        name: str, concurrency: int | str, rate: float, p50: float, p99: float, errors: int
    ) -> None:
        rows.append(
            {
                "operation": name,
                "concurrency": concurrency,
                "per second": round(rate, 1),
                "p50 ms": round(p50, 2),
                "p99 ms": round(p99, 2),
                "errors": errors,
            }
        )

    if client == "wrk":
        driver = WrkFlows(service.base, flows)
        for name in (*REFRESH_SCOPES, "introspection"):
            await vacuum_if_autovacuum_is_off(db)
            results = [await driver.run(name, c, seconds) for c in concurrencies]
            for concurrency, result in zip(concurrencies, results, strict=True):
                add(name, concurrency, result.rate, *_ms(result), result.errors)
            peak = max(result.rate for result in results)
            probes = {c: await driver.run(name, c, 2) for c in (1, 2, 4, 8)}
            closest = min(probes, key=lambda c: abs(probes[c].rate - peak / 2))
            half = await driver.run(name, closest, seconds)
            add(f"{name} @ half peak", closest, half.rate, *_ms(half), half.errors)
        return rows
    operations = {name: flows.refresh_grant(name) for name in REFRESH_SCOPES}
    operations["introspection"] = flows.introspection
    for name, operation in operations.items():
        await vacuum_if_autovacuum_is_off(db)
        peak = 0.0
        for concurrency in concurrencies:
            rate, latencies = await closed_loop(service.base, operation, concurrency, seconds)
            peak = max(peak, rate)
            add(name, concurrency, rate, *_percentiles(latencies), 0)
        latencies = await open_loop(service.base, operation, peak / 2, seconds)
        add(f"{name} @ half peak", "open", peak / 2, *_percentiles(latencies), 0)
    return rows


def _ms(result: WrkResult) -> tuple[float, float]:
    return result.percentiles[0.5] * 1000, result.percentiles[0.99] * 1000


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    return percentile(latencies, 0.5), percentile(latencies, 0.99)
