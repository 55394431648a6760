"""A DATABASE_URL and an AMQP_URL that name several servers, the first of them down."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

from service.api.keys import AUTH_CACHE
from service.config import Settings, parse_database_url
from service.events.broker import Broker
from tests.conftest import start_client
from tests.support.processes import free_port, run_cli, service_env
from tests.support.waiting import eventually


def with_a_dead_host_first(url: URL) -> URL:
    """The real server between two that refuse connections (the first and the last)."""
    raw = (
        f"postgresql+asyncpg://{url.username}@/{url.database}"
        f"?host=127.0.0.1:{free_port()}&host={url.host}:{url.port}&host=127.0.0.1:{free_port()}"
        "&target_session_attrs=read-write"
    )
    return parse_database_url(raw)


async def test_every_part_of_the_api_works_on_the_host_that_answers(
    settings: Settings, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    several = dataclasses.replace(
        settings, database_url=with_a_dead_host_first(settings.database_url)
    )
    client = await start_client(several)
    try:
        body = {"name": "n", "active": True, "redirectUri": "https://a.test"}
        response = await client.post("/api/v1/oauth-apps.create", json=body, headers=admin)
        assert response.status == 200
        assert client.app is not None
        cache: Any = client.app[AUTH_CACHE]

        async def listening() -> bool:  # the LISTEN session found the live host too
            return bool(cache.listening)

        await eventually(listening, timeout=10)
    finally:
        await client.close()


async def test_migrate_and_the_cli_follow_the_host_list(settings: Settings) -> None:
    env = service_env(with_a_dead_host_first(settings.database_url))
    result = await run_cli("migrate", env=env)
    assert result.returncode == 0, result.stderr


async def test_the_broker_list_moves_on_from_a_dead_node(settings: Settings) -> None:
    broker = Broker(f"amqp://guest:guest@127.0.0.1:{free_port()}/,{settings.amqp_url}")
    connection = await broker.connect()
    try:
        assert not connection.is_closed
    finally:
        await connection.close()
