"""Benchmark of the token endpoint beside creates, in the same run (the OAuth issue's targets).

    .venv/bin/python bench/oauth2.py [--seconds 6]

Starts `oauth-apps serve` (one process, the relay on a thread), on the benchmark's own
database and exchange, and measures with closed-loop clients: creates/s at 16, then
refresh-token grants/s and introspections/s at 1, 16 and 64, each with p50/p99; then
each operation at half of its peak rate (open loop) for the p99 target, and the RSS.
"""

from __future__ import annotations

import argparse
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
import uvloop
from run import BODY, PASSWORD, Service, percentile, prepare, remove_leftovers

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

    async def create(self, http: aiohttp.ClientSession, worker: int) -> bool:
        async with http.post(
            "/api/v1/oauth-apps.create", json=BODY, headers=self.headers
        ) as response:
            return response.status == 200

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


def row(name: str, concurrency: int | str, rate: float, latencies: list[float]) -> str:
    return (
        f"| {name} | {concurrency} | {rate:.1f} | {percentile(latencies, 0.5):.2f} "
        f"| {percentile(latencies, 0.99):.2f} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6)
    args = parser.parse_args()
    env, headers = await prepare()
    try:
        async with Service(env, 1) as service:
            flows = Flows(service.base, headers)
            await flows.setup()
            print("| operation | concurrency | per second | p50 ms | p99 ms |")
            print("|---|---|---|---|---|")
            creates, latencies = await closed_loop(service.base, flows.create, 16, args.seconds)
            print(row("create", 16, creates, latencies))
            peaks: dict[str, float] = {}
            for name, operation in (
                ("refresh grant", flows.refresh_grant),
                ("introspection", flows.introspection),
            ):
                for concurrency in (1, 16, 64):
                    rate, latencies = await closed_loop(
                        service.base, operation, concurrency, args.seconds
                    )
                    peaks[name] = max(peaks.get(name, 0.0), rate)
                    print(row(name, concurrency, rate, latencies))
            half: dict[str, list[float]] = {}
            for name, operation in (
                ("refresh grant", flows.refresh_grant),
                ("introspection", flows.introspection),
            ):
                half[name] = await open_loop(service.base, operation, peaks[name] / 2, args.seconds)
                print(row(f"{name} @ half peak", "open", peaks[name] / 2, half[name]))
            rss = max(service.peak_rss_mb().values())
    finally:
        await remove_leftovers()
    print()
    print("targets:")
    checks = [
        (
            peaks["refresh grant"] >= creates,
            f"refresh grants/s >= creates/s ({peaks['refresh grant']:.0f} vs {creates:.0f})",
        ),
        (
            peaks["introspection"] >= 2 * creates,
            f"introspections/s >= 2x creates/s ({peaks['introspection']:.0f} vs {creates:.0f})",
        ),
        *(
            (
                percentile(half[name], 0.99) <= 25,
                f"p99 <= 25 ms at half of the {name} peak ({percentile(half[name], 0.99):.1f} ms)",
            )
            for name in half
        ),
        (rss <= 100, f"API process <= 100 MB RSS ({rss:.1f} MB)"),
    ]
    for holds, text in checks:
        print(f"  [{'x' if holds else ' '}] {text}")


if __name__ == "__main__":
    uvloop.run(main())
