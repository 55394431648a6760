"""A flood of password guesses with made-up names, against the real ``serve``.

Each guess costs an Argon2 hash; unmetered, 50 connections of them grew the API
process from 93 to 190 MiB and took /health to 2.5 s. Now the per-address budget
answers them 429 and at most a few hashes run at a time.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from tests.support.processes import Stack

CONNECTIONS = 50
GUESSES = 400  # bounded: the flood ends by itself
RSS_LIMIT_MB = 150
HEALTH_P99_LIMIT = 0.2


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_a_flood_of_made_up_names_costs_its_sender_429s_not_the_process(
    stack: Stack, admin: dict[str, str]
) -> None:
    base = await stack.serve("--no-relay")
    pid = stack.processes["serve"].pid
    statuses: list[int] = []
    health: list[float] = []
    peak_rss = rss_mb(pid)
    flooding = True

    async def guesses(http: aiohttp.ClientSession, worker: int) -> None:
        for n in range(worker, GUESSES, CONNECTIONS):
            body = {"username": f"nobody-{n}", "password": "guess"}
            async with http.post(f"{base}/api/v1/login", json=body) as response:
                statuses.append(response.status)

    async def watch(http: aiohttp.ClientSession) -> None:
        nonlocal peak_rss
        while flooding:
            started = time.perf_counter()
            async with http.get(f"{base}/health") as response:
                assert response.status == 200
            health.append(time.perf_counter() - started)
            peak_rss = max(peak_rss, rss_mb(pid))
            await asyncio.sleep(0.02)  # a probe's pace, not a wait for a condition

    connector = aiohttp.TCPConnector(limit=CONNECTIONS + 1)
    async with aiohttp.ClientSession(connector=connector) as http:
        watcher = asyncio.create_task(watch(http))
        await asyncio.wait_for(
            asyncio.gather(*(guesses(http, worker) for worker in range(CONNECTIONS))), 120
        )
        flooding = False
        await watcher
    assert len(statuses) == GUESSES
    assert statuses.count(401) <= 30 and statuses.count(429) >= GUESSES - 30
    assert set(statuses) <= {401, 429}
    health.sort()
    p99 = health[int(len(health) * 0.99) - 1] if len(health) > 1 else health[0]
    assert p99 <= HEALTH_P99_LIMIT, f"/health p99 {p99 * 1000:.0f} ms"
    assert peak_rss <= RSS_LIMIT_MB, f"{peak_rss:.0f} MB"
