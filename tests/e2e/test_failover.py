"""The drill, PostgreSQL half: a synchronous standby takes over while creates keep coming.

A private primary and standby (never the machine's PostgreSQL), two ``serve``
instances and the audit consumer; clients create apps with Idempotency-Keys and retry
the same key on 503, 409 and connection errors, as the contract tells them to. The
primary is stopped with ``-m immediate`` and the standby promoted in the middle.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
import asyncpg
import orjson

from service.config import Settings, parse_database_url
from tests.support.broker import Observer
from tests.support.postgres_pair import postgres_pair
from tests.support.processes import Stack, run_cli, service_env
from tests.support.waiting import eventually

CREATES = 240
CLIENTS = 8


async def test_a_primary_failover_loses_no_acknowledged_create(
    settings: Settings, observer: Observer, tmp_path: Path
) -> None:
    async with postgres_pair() as pair:
        url = parse_database_url(pair.url(f"drill_{os.getpid()}"))
        env = service_env(url, EVENTS_EXCHANGE=settings.events_exchange, AMQP_URL=settings.amqp_url)
        assert (await run_cli("migrate", "--create-database", env=env)).returncode == 0
        created = await run_cli(
            "users",
            "create",
            "--username",
            "drill",
            "--password-stdin",
            "--role",
            "admin",
            env=env,
            stdin="drill-password-1\n",
        )
        assert created.returncode == 0, created.stderr
        token = orjson.loads(
            (await run_cli("tokens", "create", "--username", "drill", env=env)).stdout
        )
        headers = {"X-User-Id": token["userId"], "X-Auth-Token": token["authToken"]}
        stack = Stack(env, tmp_path)
        try:
            bases = [await stack.serve(), await stack.serve("--no-relay")]
            await stack.start("audit", "consume", "audit")
            answered: dict[str, str] = {}  # key -> app _id of its 200
            failures: list[float] = []
            keys = asyncio.Queue[int]()
            for n in range(CREATES):
                keys.put_nowait(n)

            async def client(number: int) -> None:
                async with aiohttp.ClientSession() as http:
                    while not keys.empty():
                        n = keys.get_nowait()
                        key = f"drill-{n}"
                        body = {"name": key, "active": True, "redirectUri": "https://a.test"}
                        deadline = time.monotonic() + 90
                        while True:
                            base = bases[(n + number) % 2]
                            try:
                                async with http.post(
                                    f"{base}/api/v1/oauth-apps.create",
                                    json=body,
                                    headers=headers | {"Idempotency-Key": key},
                                ) as response:
                                    if response.status == 200:
                                        document = await response.json()
                                        answered[key] = document["application"]["_id"]
                                        break
                                    assert response.status in (409, 503), await response.text()
                            except aiohttp.ClientError:
                                pass
                            failures.append(time.monotonic())
                            assert time.monotonic() < deadline, f"{key} never succeeded"
                            await asyncio.sleep(0.1)

            burst = asyncio.gather(*(client(n) for n in range(CLIENTS)))

            async def some_answered() -> bool:
                return len(answered) >= CREATES // 4

            await eventually(some_answered, timeout=60)
            promoted_at = time.monotonic()
            await pair.failover()
            await burst
            assert len(answered) == CREATES, "a client gave up"
            outage = max(failures) - promoted_at if failures else 0.0
            print(f"\nlongest client-visible outage after the promotion: {outage:.1f} s")
            new_primary = await asyncpg.connect(
                f"postgresql://postgres@127.0.0.1:{pair.standby_port}/{url.database}"
            )
            try:
                rows = await new_primary.fetch("SELECT id FROM oauth_apps")
                assert {row["id"] for row in rows} == set(answered.values())  # each 200 a row
                assert len(rows) == CREATES  # and no key made two

                async def drained() -> bool:  # the relay moved to the new primary too
                    return not await new_primary.fetchval(
                        "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                    )

                await eventually(drained, timeout=60)
                # At least once: after the failover some events come twice; wait for all.
                messages = await observer.wait_for(CREATES, timeout=60)
                while not set(answered.values()) <= {
                    orjson.loads(m.body)["subject"] for m in messages
                }:
                    messages = await observer.wait_for(len(messages) + 1, timeout=30)
                subjects = [orjson.loads(m.body)["subject"] for m in messages]

                async def audited() -> bool:
                    recorded = await new_primary.fetchval(
                        "SELECT count(DISTINCT app_id) FROM audit_log"
                    )
                    return bool(recorded == CREATES)

                await eventually(audited, timeout=60)
            finally:
                await new_primary.close()
        finally:
            statuses = await stack.stop_all()
        assert all(status == 0 for status in statuses.values()), statuses
        print(f"duplicates delivered: {len(subjects) - len(set(subjects))}")
