"""Operating the real processes: logs, SIGTERM under load, several workers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from sqlalchemy.engine import URL

from tests.support.broker import Observer
from tests.support.processes import Stack, free_port, run_cli
from tests.support.waiting import eventually

CREATE = "/api/v1/oauth-apps.create"
BODY = {"name": "ops", "active": True, "redirectUri": "https://a.test"}


async def test_logs_are_json_with_request_ids_and_never_secrets(
    stack: Stack, observer: Observer, database_url: URL
) -> None:
    stack.env |= {"ADMIN_USERNAME": "root", "ADMIN_PASS": "pa55-word-in-env", "LOG_LEVEL": "DEBUG"}
    base = await stack.serve()
    await stack.start("audit", "consume", "audit")
    await stack.start("notification", "consume", "notification")
    secrets = ["pa55-word-in-env"]
    async with aiohttp.ClientSession(base) as http:
        login = await (
            await http.post("/api/v1/login", json={"user": "root", "password": "pa55-word-in-env"})
        ).json()
        headers = {"X-User-Id": login["data"]["userId"], "X-Auth-Token": login["data"]["authToken"]}
        secrets.append(headers["X-Auth-Token"])
        await http.post("/api/v1/login", json={"user": "root", "password": "wrong-pass-xyz"})
        secrets.append("wrong-pass-xyz")
        response = await http.post(CREATE, json=BODY, headers=headers | {"X-Request-Id": "trace-1"})
        app = (await response.json())["application"]
        secrets.append(app["clientSecret"])
        rotated = await http.post(
            "/api/v1/oauth-apps.rotateSecret", json={"appId": app["_id"]}, headers=headers
        )
        secrets.append((await rotated.json())["application"]["clientSecret"])
        await http.post("/api/v1/logout", headers=headers)
    token = json.loads(
        (await run_cli("tokens", "create", "--username", "root", env=stack.env)).stdout
    )["authToken"]
    secrets.append(token)
    await observer.wait_for(2)
    await stack.stop_all()

    access = []
    for name in ("serve", "audit", "notification"):
        for line in stack.log(name).read_text().splitlines():
            entry = json.loads(line)  # every line is one JSON object
            assert {"time", "level", "logger", "message"} <= set(entry)
            assert not any(secret in line for secret in secrets), (name, line)
            if entry["logger"] == "aiohttp.access":
                access.append(entry)
    create_lines = [e for e in access if e["path"] == CREATE]
    assert [e["request_id"] for e in create_lines] == ["trace-1"]
    assert create_lines[0]["status"] == 200 and create_lines[0]["duration_ms"] > 0


async def test_sigterm_during_a_burst(
    stack: Stack, observer: Observer, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    base = await stack.serve()
    outcomes: list[int | str] = []
    under_way = asyncio.Event()

    async def one(http: aiohttp.ClientSession) -> None:
        try:
            async with http.post(CREATE, json=BODY, headers=admin) as response:
                outcomes.append(response.status)
        except aiohttp.ClientError as error:
            outcomes.append(type(error).__name__)  # refused or cut before an answer
        if len(outcomes) >= 20:
            under_way.set()

    async with aiohttp.ClientSession(base) as http:
        burst = [asyncio.create_task(one(http)) for _ in range(300)]
        await under_way.wait()
        stack.processes["serve"].send_signal(signal.SIGTERM)
        await asyncio.gather(*burst)
    assert await stack.processes.pop("serve").wait() == 0
    answered = [o for o in outcomes if isinstance(o, int)]
    assert set(answered) == {200}, outcomes
    committed = await db.fetchval("SELECT count(*) FROM oauth_apps")
    assert committed >= len(answered)  # an answer may be lost in flight, an app never
    assert await db.fetchval("SELECT count(*) FROM outbox") == committed
    # Whatever the relay had not sent yet goes out with the next relay.
    await stack.start("relay", "relay")
    messages = await observer.wait_for(committed)
    assert len({m.message_id for m in messages}) == committed


def worker_pids(parent: int) -> list[str]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


@pytest.mark.parametrize("workers", [2])
async def test_workers_share_the_port_and_the_metrics(
    stack: Stack, admin: dict[str, str], workers: int
) -> None:
    base = await stack.serve("--workers", str(workers), "--no-relay")
    assert len(worker_pids(stack.processes["serve"].pid)) == workers
    async with aiohttp.ClientSession(base) as http:
        for _ in range(40):
            # A new connection each time, so the kernel spreads them over the workers.
            async with aiohttp.ClientSession(base) as fresh, fresh.get("/health") as response:
                assert response.status == 200
        for _ in range(10):
            async with http.post(CREATE, json=BODY, headers=admin) as response:
                assert response.status == 200
        text = await (await http.get("/metrics")).text()
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('oauth_apps_http_requests_total{method="GET",route="/health"')
    )
    assert total == 40, text
    assert 'route="/api/v1/oauth-apps.create",status="200"} 10.0' in text


async def test_metrics_of_several_workers_have_each_family_once_and_no_stale_samples(
    stack: Stack, admin: dict[str, str]
) -> None:
    base = await stack.serve("--workers", "2")
    scrapes = []
    for _ in range(12):  # fresh connections: scrapes answered by both workers
        async with aiohttp.ClientSession(base) as http:
            async with http.post(CREATE, json=BODY, headers=admin) as response:
                assert response.status == 200
            async with http.get("/metrics") as response:
                scrapes.append(await response.text())
    for text in scrapes:
        types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
        duplicated = {name for name in types if types.count(name) > 1}
        assert not duplicated, duplicated
        backlog = [
            line for line in text.splitlines() if line.startswith("oauth_apps_outbox_backlog")
        ]
        assert len(backlog) == 1 and "pid=" not in backlog[0], backlog
        assert not any("pid=" in line for line in text.splitlines() if "_in_use" in line)


async def test_workers_publish_through_one_relay_process(
    stack: Stack, observer: Observer, admin: dict[str, str]
) -> None:
    base = await stack.serve("--workers", "2")
    serve = stack.processes["serve"]
    assert len(worker_pids(serve.pid)) == 3  # two API workers and the relay
    async with aiohttp.ClientSession(base) as http:
        for _ in range(10):
            # A new connection each time, so the kernel spreads them over the workers.
            async with (
                aiohttp.ClientSession(base) as fresh,
                fresh.post(CREATE, json=BODY, headers=admin) as response,
            ):
                assert response.status == 200
        messages = await observer.wait_for(10)
        deadline = asyncio.get_running_loop().time() + 20
        published = ""
        while not published.endswith(" 10.0"):
            assert asyncio.get_running_loop().time() < deadline, published
            # The relay process counts into the workers' shared metrics directory.
            text = await (await http.get("/metrics")).text()
            published = " ".join(
                line for line in text.splitlines() if line.startswith("oauth_apps_events_published")
            )
            await asyncio.sleep(0.1)
    assert len({m.message_id for m in messages}) == 10
    serve.send_signal(signal.SIGTERM)
    assert await stack.processes.pop("serve").wait() == 0


async def test_consumer_serves_its_metrics(
    stack: Stack, observer: Observer, admin: dict[str, str]
) -> None:
    port = free_port()
    stack.env["METRICS_PORT"] = str(port)
    await stack.start("audit", "consume", "audit")
    del stack.env["METRICS_PORT"]
    base = await stack.serve()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}{CREATE}", json=BODY, headers=admin) as response:
            assert response.status == 200
        await observer.wait_for(1)
        deadline = asyncio.get_running_loop().time() + 20
        line = 'oauth_apps_consumer_messages_total{consumer="audit",outcome="acked"} 1.0'
        while True:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                if line in await response.text():
                    break
            assert asyncio.get_running_loop().time() < deadline, "no acked message counted"
            await asyncio.sleep(0.05)


async def test_a_killed_child_is_restarted_and_the_others_keep_serving(
    stack: Stack, observer: Observer, admin: dict[str, str]
) -> None:
    base = await stack.serve("--workers", "2")
    serve = stack.processes["serve"]
    before = worker_pids(serve.pid)
    assert len(before) == 3
    relay = max(before, key=int)  # started last
    os.kill(int(relay), signal.SIGKILL)
    async with aiohttp.ClientSession(base) as http:
        statuses = []
        for _ in range(30):  # the API workers never stopped serving
            async with http.post(CREATE, json=BODY, headers=admin) as response:
                statuses.append(response.status)
        assert set(statuses) == {200}

    async def replaced() -> bool:
        now = worker_pids(serve.pid)
        return len(now) == 3 and relay not in now

    await eventually(replaced, timeout=20)
    await observer.wait_for(30, timeout=30)  # the new relay publishes what was written
    worker = min(before, key=int)
    os.kill(int(worker), signal.SIGKILL)

    async def worker_replaced() -> bool:
        now = worker_pids(serve.pid)
        return len(now) == 3 and worker not in now

    await eventually(worker_replaced, timeout=20)
    assert "child died, restarting" in stack.log("serve").read_text()
    serve.send_signal(signal.SIGTERM)
    assert await stack.processes.pop("serve").wait() == 0


async def test_serve_defaults_to_web_concurrency_or_the_usable_cores(
    stack: Stack, admin: dict[str, str]
) -> None:
    stack.env["WEB_CONCURRENCY"] = "3"
    await stack.serve("--no-relay")
    assert len(worker_pids(stack.processes["serve"].pid)) == 3
    await stack.stop_all()
    del stack.env["WEB_CONCURRENCY"]
    await stack.serve()
    expected = max(1, len(os.sched_getaffinity(0)))
    # The workers, and the relay as a process of its own when there are several.
    assert len(worker_pids(stack.processes["serve"].pid)) == (expected + 1 if expected > 1 else 0)
