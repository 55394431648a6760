"""The token endpoint's levels, run by bench/run.py on the same service as the creates.

Refresh-token grants/s and introspections/s with closed-loop clients at each
concurrency, with p50/p99; then each at half of its peak rate (open loop) for the
p99 target.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp

from bench.environment import PASSWORD, Service, percentile

REDIRECT = "https://bench.test/cb"
Operation = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]


async def closed_loop(
    base: str, operation: Operation, concurrency: int, seconds: float
) -> tuple[float, list[float]]:
    """Run ``operation`` from ``concurrency`` clients for ``seconds``: rate and latencies (ms)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(worker: int) -> None:
        async with aiohttp.ClientSession(base) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                assert await operation(http, worker)
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def open_loop(base: str, operation: Operation, rate: float, seconds: float) -> list[float]:
    """Start ``operation`` at a fixed ``rate`` for ``seconds``; return the latencies (ms)."""
    latencies: list[float] = []
    async with aiohttp.ClientSession(base) as http:
        tasks = []

        async def one(worker: int) -> None:
            started = time.perf_counter()
            assert await operation(http, worker)
            latencies.append((time.perf_counter() - started) * 1000)

        begin = time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(n % 64)))
        await asyncio.gather(*tasks)
    return latencies


class Flows:
    """An app, a signed-in browser session, and a chain of refresh tokens per client."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base = base
        self.headers = headers
        self.refresh: dict[int, str] = {}
        self.access = ""

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
            verifier, query = self._query()
            form = {"username": "bench", "password": PASSWORD, "next": urlencode(query)}
            async with browser.post("/oauth/login", data=form) as consent:
                page = await consent.text()
            fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page))
            async with browser.post(
                "/oauth/authorize", data=fields | {"decision": "allow"}, allow_redirects=False
            ) as answer:
                tokens = await self._exchange(answer.headers["Location"], verifier)
            self.access = tokens["access_token"]
            for worker in range(64):  # the grant is remembered: codes come at once
                verifier, query = self._query()
                async with browser.get(
                    "/oauth/authorize", params=query, allow_redirects=False
                ) as answer:
                    tokens = await self._exchange(answer.headers["Location"], verifier)
                self.refresh[worker] = tokens["refresh_token"]

    def _query(self) -> tuple[str, dict[str, str]]:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return verifier, {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
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

    async def refresh_grant(self, http: aiohttp.ClientSession, worker: int) -> bool:
        form = {"grant_type": "refresh_token", "refresh_token": self.refresh[worker]}
        async with http.post("/oauth/token", data=form, headers=self.basic) as response:
            if response.status != 200:
                return False
            self.refresh[worker] = (await response.json())["refresh_token"]
            return True

    async def introspection(self, http: aiohttp.ClientSession, worker: int) -> bool:
        form = {"token": self.access}
        async with http.post("/oauth/introspect", data=form, headers=self.basic) as response:
            return response.status == 200 and (await response.json())["active"] is True


async def measure(
    service: Service, headers: dict[str, str], concurrencies: list[int], seconds: float
) -> list[dict[str, Any]]:
    """Measure refresh grants and introspections on a running service: one row per level."""
    flows = Flows(service.base, headers)
    await flows.setup()
    rows: list[dict[str, Any]] = []

    def add(name: str, concurrency: int | str, rate: float, latencies: list[float]) -> None:
        rows.append(
            {
                "operation": name,
                "concurrency": concurrency,
                "per second": round(rate, 1),
                "p50 ms": round(percentile(latencies, 0.5), 2),
                "p99 ms": round(percentile(latencies, 0.99), 2),
            }
        )

    operations = {"refresh grant": flows.refresh_grant, "introspection": flows.introspection}
    for name, operation in operations.items():
        peak = 0.0
        for concurrency in concurrencies:
            rate, latencies = await closed_loop(service.base, operation, concurrency, seconds)
            peak = max(peak, rate)
            add(name, concurrency, rate, latencies)
        half = await open_loop(service.base, operation, peak / 2, seconds)
        add(f"{name} @ half peak", "open", peak / 2, half)
    return rows
