"""Shared fixtures: a fresh test database migrated once, a real HTTP server, users with tokens.

A test needs the real PostgreSQL and RabbitMQ exactly when it uses one of these fixtures
(all of them start from ``database_url``): such tests are marked ``connected``, so that
``pytest -m "not connected"`` runs the pure checks alone, wherever they live.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import URL

from service import bootstrap
from service.application import create_application
from service.config import Settings, parse_database_url
from service.domain.events import Event
from service.domain.redirect_uris import RedirectUriPolicy
from service.events.topology import Topology
from service.persistence.database import Database, asyncpg_dsn
from service.persistence.migrations import migrate
from service.usecases import accounts, oauth_apps
from service.usecases.group_commit import AppWriter
from service.usecases.oauth2.keys import KeySeal, ensure_first_key
from tests.support.broker import Observer, delete_topology, reset_topology
from tests.support.processes import TEST_SECRET_KEY, Stack, service_env

# A name of its own for each run: two runs on one machine (a developer's and CI's)
# never share a database or an exchange.
RUN = f"oauth_apps_test_{os.getpid()}"
TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:5432/{RUN}"
)
TEST_AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests whose fixtures reach the real services."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.connected)


async def _drop_database(url: URL) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url.set(database="postgres")))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await connection.close()


async def _first_signing_key(url: URL) -> None:
    database = Database.connect(url, pool_size=1)
    try:
        assert await ensure_first_key(database, KeySeal(TEST_SECRET_KEY)) is not None
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def database_url() -> Iterator[URL]:
    """A database made anew for this run, migrated and keyed as ``migrate`` does, dropped after."""
    url = parse_database_url(TEST_DATABASE_URL)
    asyncio.run(_drop_database(url))
    assert migrate(url, create=True) is True
    asyncio.run(_first_signing_key(url))
    yield url
    asyncio.run(_drop_database(url))


@pytest.fixture(scope="session")
def settings(database_url: URL) -> Iterator[Settings]:
    """Settings pointing at the test database and broker; the run's broker objects go after it."""
    settings = Settings(
        database_url=database_url,
        amqp_url=TEST_AMQP_URL,
        events_exchange=RUN,
        redirect_uri_policy=RedirectUriPolicy.RFC6749,
        secret_key=TEST_SECRET_KEY,
    )
    yield settings
    asyncio.run(delete_topology(settings.amqp_url, Topology(settings.events_exchange)))


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The service's database access, on the test database."""
    database = Database.connect(settings.database_url, pool_size=2)
    yield database
    await database.dispose()


@pytest.fixture
async def writer(database: Database) -> AsyncIterator[AppWriter]:
    """The group-commit writer that registrations go through, as in the API."""
    async with bootstrap.app_writer(database) as app_writer:
        yield app_writer


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A raw connection to the test database, with every table emptied first."""
    connection = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    await connection.execute(
        "TRUNCATE oauth_apps, outbox, users, audit_log, processed_events, idempotency_keys,"
        " registration_tokens CASCADE"
    )
    yield connection
    await connection.close()


async def start_client(settings: Settings) -> TestClient[Any, Any]:
    """Serve the real application on a loopback port and return a client for it."""
    client: TestClient[Any, Any] = TestClient(TestServer(create_application(settings)))
    await client.start_server()
    return client


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Connection) -> AsyncIterator[TestClient[Any, Any]]:
    """An HTTP client of a freshly started service."""
    client = await start_client(settings)
    yield client
    await client.close()


async def user_headers(database: Database, username: str, roles: tuple[str, ...]) -> dict[str, str]:
    """Create a user and return the headers that authenticate as it."""
    await accounts.create_user(
        database, username, "correct horse", email=f"{username}@example.test", roles=roles
    )
    token = await accounts.create_personal_token(database, username)
    return {"X-User-Id": token.user_id, "X-Auth-Token": token.auth_token}


@pytest.fixture
async def admin(db: asyncpg.Connection, database: Database) -> dict[str, str]:
    """Headers of a user with the admin role."""
    return await user_headers(database, "math.bar", ("admin", "user"))


@pytest.fixture
async def plain_user(db: asyncpg.Connection, database: Database) -> dict[str, str]:
    """Headers of a user without manage-oauth-apps."""
    return await user_headers(database, "plain", ("user",))


@pytest.fixture
async def observer(settings: Settings) -> AsyncIterator[Observer]:
    """The test topology with empty queues, and an observer queue bound to every event."""
    topology = Topology(settings.events_exchange)
    await reset_topology(settings.amqp_url, topology)
    observer = Observer(settings.amqp_url, topology)
    await observer.setup()
    yield observer
    await observer.delete()


@pytest.fixture
async def stack(settings: Settings, db: asyncpg.Connection, tmp_path: Path) -> AsyncIterator[Stack]:
    """Real processes on the test database and exchange; each must exit 0 on SIGTERM."""
    env = service_env(
        settings.database_url, EVENTS_EXCHANGE=settings.events_exchange, AMQP_URL=settings.amqp_url
    )
    stack = Stack(env, tmp_path)
    yield stack
    statuses = await stack.stop_all()
    failed = {name: status for name, status in statuses.items() if status != 0}
    assert not failed, {name: stack.log(name).read_text()[-3000:] for name in failed}


SEEDED_ROLES = {
    "access-permissions": ["admin"],
    "api-bypass-rate-limit": ["admin"],
    "manage-oauth-apps": ["admin"],
}


@pytest.fixture
async def seeded_roles(db: asyncpg.Connection) -> AsyncIterator[None]:
    """Put the seeded roles back after a test that changes them."""
    yield
    await db.execute("DELETE FROM role_permissions")
    await db.executemany(
        "INSERT INTO role_permissions (role, permission) VALUES ($1, $2)",
        [(roles[0], permission) for permission, roles in SEEDED_ROLES.items()],
    )


def reuse_event_id(monkeypatch: pytest.MonkeyPatch, event_id: uuid.UUID) -> None:
    """Make the next creates write an event id that is already in the outbox.

    The outbox's unique constraint then fails the create's statement after the app row
    was written in it: a real failure inside PostgreSQL, not a mock.
    """
    real_app_event = oauth_apps.app_event

    def clashing(*args: Any, **kwargs: Any) -> Event:
        return dataclasses.replace(real_app_event(*args, **kwargs), id=event_id)

    monkeypatch.setattr(oauth_apps, "app_event", clashing)
