"""Sixteen workers on a PostgreSQL of 100 connections: within the budget, and no 5xx under load.

A private cluster with ``max_connections=100`` (PostgreSQL's default), so that what
the service opens is all there is to count.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from service.config import DEFAULT_DATABASE_CONNECTIONS, Settings, parse_database_url
from tests.support.postgres_pair import private_postgres
from tests.support.processes import Stack, run_cli, service_env

CLIENTS = 200
REQUESTS_PER_CLIENT = 5
PASSWORD = "budget-pass-1234"
V1 = "/api/v1/oauth-apps"


class Peak:
    """The most connections the service held to its database at any sample."""

    def __init__(self, port: int) -> None:
        self._port = port
        self.most = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Peak:
        # Its own connection is to another database, so it never counts itself.
        connection = await asyncpg.connect(host="127.0.0.1", port=self._port, user="postgres")
        self._task = asyncio.create_task(self._sample(connection))
        return self

    async def __aexit__(self, *_: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    async def _sample(self, connection: asyncpg.Connection) -> None:
        try:
            while not self._stop.is_set():
                count = await connection.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'oauth_apps'"
                )
                self.most = max(self.most, count)
                await asyncio.sleep(0.01)
        finally:
            await connection.close()


async def _one_client(
    http: aiohttp.ClientSession, n: int, headers: dict[str, str], app: dict[str, Any]
) -> list[int]:
    """A few requests of each kind in turn, starting at a different kind for each client."""
    secret = f"{app['clientId']}:{app['clientSecret']}".encode()
    client_auth = {"Authorization": "Basic " + base64.b64encode(secret).decode()}
    statuses = []
    for step in range(REQUESTS_PER_CLIENT):
        kind = (n + step) % 5
        if kind == 0:
            body = {"name": f"load {n}.{step}", "active": True, "redirectUri": "https://a.test"}
            request = http.post(f"{V1}.create", json=body, headers=headers)
        elif kind == 1:
            request = http.get(f"{V1}.list", params={"count": "10"}, headers=headers)
        elif kind == 2:
            request = http.get(f"{V1}.get", params={"appId": app["_id"]}, headers=headers)
        elif kind == 3 and n % 10 == 0:  # a login hashes a password: a few of them
            request = http.post("/api/v1/login", json={"user": "root", "password": PASSWORD})
        else:
            form = {"token": secrets.token_urlsafe(32)}
            request = http.post("/oauth/introspect", data=form, headers=client_auth)
        async with request as response:
            await response.read()
            statuses.append(response.status)
    return statuses


async def test_sixteen_workers_stay_within_the_connection_budget_under_load(
    settings: Settings, tmp_path: Path
) -> None:
    async with private_postgres("max_connections=100") as port:
        url = parse_database_url(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/oauth_apps")
        env = service_env(
            url,
            AMQP_URL=settings.amqp_url,
            EVENTS_EXCHANGE=settings.events_exchange,
            WEB_CONCURRENCY="16",
            ADMIN_USERNAME="root",
            ADMIN_PASS=PASSWORD,
        )
        migrated = await run_cli("migrate", "--create-database", env=env)
        assert migrated.returncode == 0, migrated.stderr
        stack = Stack(env, tmp_path)
        try:
            async with Peak(port) as peak:
                base = await stack.serve()
                connector = aiohttp.TCPConnector(limit=CLIENTS)
                async with aiohttp.ClientSession(base, connector=connector) as http:
                    login = await http.post(
                        "/api/v1/login", json={"user": "root", "password": PASSWORD}
                    )
                    data = (await login.json())["data"]
                    headers = {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}
                    body = {"name": "budget", "active": True, "redirectUri": "https://a.test"}
                    created = await http.post(f"{V1}.create", json=body, headers=headers)
                    app = (await created.json())["application"]
                    answers = await asyncio.gather(
                        *(_one_client(http, n, headers, app) for n in range(CLIENTS))
                    )
            statuses = [status for answer in answers for status in answer]
            assert len(statuses) == CLIENTS * REQUESTS_PER_CLIENT
            assert {status for status in statuses if status >= 500} == set(), sorted(statuses)
            assert set(statuses) == {200}
            assert 16 < peak.most <= DEFAULT_DATABASE_CONNECTIONS, peak.most
        finally:
            statuses_at_stop = await stack.stop_all()
        assert statuses_at_stop == {"serve": 0}, stack.log("serve").read_text()[-3000:]
