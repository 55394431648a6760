"""A pool that stays busy: requests wait for a connection, then get a 503, never a 500."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from service.api.keys import DATABASE
from service.config import Settings
from tests.conftest import start_client


async def test_requests_queue_for_the_pool_then_answer_503(
    settings: Settings, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    client: TestClient[Any, Any] = await start_client(
        dataclasses.replace(settings, api_pool_size=1)
    )
    try:
        async with client.app[DATABASE].engine.connect():  # the pool's only connection
            response = await client.get("/api/v1/oauth-apps.list", headers=admin)
            assert response.status == 503
            assert response.headers["Retry-After"] == "1"
        response = await client.get("/api/v1/oauth-apps.list", headers=admin)
        assert response.status == 200
    finally:
        await client.close()
