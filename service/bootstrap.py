"""The composition root: every long-lived resource, built from ``Settings``, with its lifetime.

Each resource is one async context manager here. The HTTP application enters them
as ``cleanup_ctx`` entries (``application.py``); the relay and consumer processes
enter them on an ``AsyncExitStack``. Nothing else in the service opens a pool, a
listening connection or a broker connection, and objects start their background
tasks in ``start()``, never in a constructor. Each resource imports what it needs
when it is built, so that a short CLI command loads the database layer only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

from service.config import Settings
from service.persistence.database import Database, check_connection
from service.persistence.housekeeping import Purge
from service.persistence.migrations import check_schema

if TYPE_CHECKING:
    from service.events.broker import Broker
    from service.events.topology import Topology
    from service.usecases.auth_cache import AuthCache
    from service.usecases.group_commit import AppWriter
    from service.usecases.oauth2.keys import KeyRing
    from service.usecases.oauth2.stores import OAuth2Services
    from service.usecases.readiness import ReadinessProbe

log = logging.getLogger(__name__)

RELAY_SHUTDOWN_TIMEOUT = 10.0


@contextlib.asynccontextmanager
async def database(settings: Settings, *, pool_size: int | None = None) -> AsyncIterator[Database]:
    """The connection pool (an API process's share unless ``pool_size``), on a migrated database.

    Raises ``DependencyUnavailable`` when PostgreSQL does not answer, and
    ``ConfigError`` when the database is missing or not migrated.
    """
    opened = Database.connect(settings.database_url, pool_size or settings.api_pool_size)
    try:
        await check_connection(opened.engine)
        await check_schema(opened.engine)
        yield opened
    finally:
        await opened.dispose()


@contextlib.asynccontextmanager
async def process_session(settings: Settings) -> AsyncIterator[AuthCache]:
    """The API process's one dedicated PostgreSQL session, and the principal cache.

    The session listens for ``auth_changed`` (each notification empties the cache) and
    holds the lock that shows this process alive to idempotency reservations.
    """
    from service.persistence.idempotency import hold_owner_lock
    from service.persistence.pg_listen import PgListener
    from service.usecases.auth_cache import AUTH_CHANGED_CHANNEL, AuthCache

    cache = AuthCache()

    def listening(state: bool) -> None:
        cache.listening = state
        cache.clear()

    listener = PgListener(
        settings.database_url,
        AUTH_CHANGED_CHANNEL,
        on_notification=cache.clear,
        on_listening=listening,
        on_connected=hold_owner_lock,
    )
    listener.start()
    try:
        yield cache
    finally:
        await listener.close()


@contextlib.asynccontextmanager
async def app_writer(opened: Database) -> AsyncIterator[AppWriter]:
    """The group-commit writer of registrations, held back while the relay lags."""
    from service.usecases.back_pressure import OutboxPressure
    from service.usecases.group_commit import AppWriter, insert_in_autocommit

    pressure = OutboxPressure(opened)
    pressure.start()
    writer = AppWriter(insert_in_autocommit(opened), before_write=pressure.wait)
    writer.start()
    try:
        yield writer
    finally:
        await writer.close()  # requests are finished by now: nothing more will queue
        await pressure.close()


@contextlib.asynccontextmanager
async def oauth2_services(
    settings: Settings, opened: Database, cache: AuthCache
) -> AsyncIterator[OAuth2Services]:
    """The authorization server's store, the batched statements of its token endpoint, its keys."""
    from service.persistence.oauth2.store import SqlOAuth2Store
    from service.usecases.oauth2.stores import OAuth2Services
    from service.usecases.token_batches import TokenBatches

    async with key_ring(settings, opened, cache) as ring:
        batches = TokenBatches(opened)
        batches.start()
        try:
            yield OAuth2Services(
                store=SqlOAuth2Store(opened),
                tokens=batches,
                keys=ring,
                pkce=settings.oauth_pkce,
                cache=cache,
                issuer=settings.issuer,
                id_token_lifetime=timedelta(seconds=settings.id_token_lifetime),
            )
        finally:
            await batches.close()  # requests are finished by now: nothing more will queue


@contextlib.asynccontextmanager
async def key_ring(
    settings: Settings, opened: Database, cache: AuthCache | None = None
) -> AsyncIterator[KeyRing]:
    """The signing keys, reloading on ``cache``'s notifications; a ``ConfigError`` if none signs."""
    from service.usecases.oauth2.keys import KeyRing, KeySeal, live_keys

    ring = KeyRing(KeySeal(settings.require_secret_key()), lambda: live_keys(opened))
    await ring.start()
    if cache is not None:
        cache.watchers.append(ring.changed)
    try:
        yield ring
    finally:
        if cache is not None:
            cache.watchers.remove(ring.changed)
        await ring.close()


@contextlib.asynccontextmanager
async def readiness(settings: Settings, opened: Database) -> AsyncIterator[ReadinessProbe]:
    """What ``/ready`` asks, on the process's pool and one broker connection."""
    from service.usecases.readiness import ReadinessProbe

    probe = ReadinessProbe(opened, broker(settings))
    try:
        yield probe
    finally:
        await probe.close()


async def admin_user(settings: Settings, opened: Database) -> None:
    """Create the ``ADMIN_USERNAME`` user at start-up when it is missing."""
    from service.usecases.accounts import ensure_user, password_matches

    admin = settings.admin
    if admin is None:
        return
    created = await ensure_user(
        opened,
        admin.username,
        admin.password,
        email=admin.email,
        roles=("admin", "user"),
        min_password_length=settings.password_min_length,
    )
    if created:
        log.info("created admin user", extra={"fields": {"username": admin.username}})
    elif not await password_matches(opened, admin.username, admin.password):
        # An existing admin keeps its password: changing ADMIN_PASS changes nothing.
        log.warning(
            "ADMIN_PASS differs from the existing admin's password, which is kept;"
            " log in with the old one, or create another admin with oauth-apps users create",
            extra={"fields": {"username": admin.username}},
        )


def broker(settings: Settings) -> Broker:
    """How this process reaches RabbitMQ."""
    from service.events.broker import Broker

    return Broker(settings.amqp_url)


def topology(settings: Settings) -> Topology:
    """The exchanges and queues of ``EVENTS_EXCHANGE``."""
    from service.events.topology import Topology

    return Topology(settings.events_exchange)


async def run_relay(settings: Settings, stop: asyncio.Event) -> None:
    """Relay the outbox until ``stop`` is set, on resources of its own."""
    from service.events.relay import Relay, RelayConfig

    config = RelayConfig(
        batch_size=settings.relay_batch_size,
        leadership_timeout=settings.relay_leadership_timeout,
    )
    async with database(settings, pool_size=1) as opened:
        relay = Relay(
            opened,
            broker(settings),
            topology(settings),
            purges=housekeeping(config.retention),
            config=config,
        )
        await relay.run(stop)


def housekeeping(retention: timedelta) -> list[tuple[str, Purge]]:
    """Every context's scheduled purges, in the order the relay runs them."""
    from service.persistence import idempotency, oauth2, oauth_apps, outbox, processed_events

    return [
        (
            "published_events",
            lambda connection, limit: outbox.purge_published(connection, retention, limit),
        ),
        (
            "processed_marks",
            lambda connection, limit: processed_events.purge_older_than(
                connection, retention, limit
            ),
        ),
        ("idempotency_keys", idempotency.purge_expired),
        ("previous_secrets", oauth_apps.purge_expired_previous_secrets),
        *oauth2.PURGES,
    ]


@contextlib.asynccontextmanager
async def relay_thread(settings: Settings) -> AsyncIterator[None]:
    """The relay on a thread of this process (``serve`` with one process)."""
    from service.events.relay import RelayThread

    thread = RelayThread(lambda stop: run_relay(settings, stop))
    thread.start()
    try:
        yield
    finally:
        # After the HTTP server stopped: let the relay finish the batch in hand.
        if not await thread.stop(RELAY_SHUTDOWN_TIMEOUT):
            log.warning("relay did not stop in time; its events stay in the outbox")


async def run_consumer(settings: Settings, name: str, stop: asyncio.Event) -> None:
    """Run the consumer called ``name`` until ``stop`` is set."""
    import aiohttp

    from service.events.consumer import Consumer
    from service.events.received import HandlerResources

    async with contextlib.AsyncExitStack() as stack:
        opened = await stack.enter_async_context(database(settings, pool_size=2))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        events = topology(settings)
        queue = events.queue(name)
        handler = queue.consumer.handler_factory()(HandlerResources(opened, settings, http))
        consumer = Consumer(broker=broker(settings), topology=events, queue=queue, handler=handler)
        await consumer.run(stop)
