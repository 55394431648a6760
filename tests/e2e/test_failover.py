"""The drill: a RabbitMQ node dies and PostgreSQL fails over while creates keep coming.

All private (never the machine's services): a 3-node RabbitMQ cluster, a PostgreSQL
primary with a synchronous standby, two ``serve`` instances and the audit consumer.
Clients create apps with Idempotency-Keys and retry the same key on 503, 409 and
connection errors, as the contract tells them to. Midway, the node that leads the
audit queue is killed with SIGKILL, the primary is stopped with ``-m immediate``, the
standby is promoted, and the node comes back.
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
from service.events.topology import Topology
from tests.support.broker import Observer
from tests.support.postgres_pair import postgres_pair
from tests.support.processes import Stack, run_cli, service_env
from tests.support.rabbitmq_node import RabbitNode, private_cluster
from tests.support.waiting import eventually

CREATES = 240
CLIENTS = 8


async def queue_leader(nodes: list[RabbitNode], queue: str) -> RabbitNode:
    """The node that leads a quorum queue."""
    listed = await nodes[0].ctl("list_queues", "name", "leader", "--formatter", "json")
    leaders = {entry["name"]: entry["leader"] for entry in orjson.loads(listed)}
    return next(node for node in nodes if node.name == leaders[queue])


async def test_a_node_death_and_a_failover_lose_no_acknowledged_create(
    settings: Settings, tmp_path: Path
) -> None:
    async with (
        postgres_pair() as pair,
        private_cluster(tmp_path / "rabbitmq") as nodes,
    ):
        url = parse_database_url(pair.url(f"drill_{os.getpid()}"))
        amqp = ",".join(node.amqp_url for node in nodes)
        env = service_env(url, EVENTS_EXCHANGE=settings.events_exchange, AMQP_URL=amqp)
        topology = Topology(settings.events_exchange)
        leader = None
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
        observer: Observer | None = None
        try:
            bases = [await stack.serve(), await stack.serve("--no-relay")]
            await stack.start("audit", "consume", "audit")
            leader = await queue_leader(nodes, f"{topology.exchange}.audit")
            survivor = next(node for node in nodes if node is not leader)
            observer = Observer(survivor.amqp_url, topology)
            await observer.setup()
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
            leader.kill()
            promoted_at = time.monotonic()
            await pair.failover()
            await leader.restart()
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
            if observer is not None:
                await observer.delete()
        assert all(status == 0 for status in statuses.values()), statuses
        print(f"duplicates delivered: {len(subjects) - len(set(subjects))}")
