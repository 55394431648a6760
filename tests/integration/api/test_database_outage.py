"""PostgreSQL going away: 503 JSON, nothing half-written, recovery without a restart."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import asyncpg
import pytest

from service.config import Settings
from tests.conftest import start_client
from tests.support.tcpproxy import TcpProxy

CREATE = "/api/v1/oauth-apps.create"
BODY = {"name": "outage", "active": True, "redirectUri": "https://a.test"}


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[TcpProxy]:
    url = settings.database_url
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.cut()


async def test_outage_gives_503_and_the_service_recovers(
    settings: Settings, proxy: TcpProxy, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    proxied = dataclasses.replace(settings, database_url=settings.database_url.set(port=proxy.port))
    client = await start_client(proxied)
    try:
        assert (await client.post(CREATE, json=BODY, headers=admin)).status == 200

        await proxy.cut()
        for _ in range(3):
            response = await client.post(CREATE, json=BODY, headers=admin)
            assert response.status == 503
            body = await response.json()
            assert body["success"] is False
            assert body["errorType"] == "error-service-unavailable"
        assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 1
        assert await db.fetchval("SELECT count(*) FROM outbox") == 1

        await proxy.start()
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            response = await client.post(CREATE, json=BODY, headers=admin)
            if response.status == 200 or asyncio.get_running_loop().time() > deadline:
                break
            assert response.status == 503
            await asyncio.sleep(0.1)
        assert response.status == 200
        assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 2
        assert await db.fetchval("SELECT count(*) FROM outbox") == 2
    finally:
        await client.close()
