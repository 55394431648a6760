"""The application factory: resources in ``cleanup_ctx`` order, then the routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from service.api.bodies import MAX_BODY_BYTES
from service.api.handlers import accounts, oauth_apps, operations
from service.api.keys import (
    APP_WRITER,
    AUTH_CACHE,
    DATABASE,
    LOGIN_THROTTLE,
    RATE_LIMITER,
    SETTINGS,
)
from service.api.middlewares import error_middleware, metrics_middleware, request_id_middleware
from service.config import Settings
from service.domain.rate_limit import RateLimiter
from service.domain.throttle import FailureThrottle
from service.events.pressure import OutboxPressure
from service.events.relay import Relay, RelayThread
from service.operations.accounts import ensure_user
from service.operations.auth_cache import AUTH_CHANGED_CHANNEL, AuthCache
from service.persistence.app_writer import AppWriter
from service.persistence.database import Database, check_connection
from service.persistence.notifications import listen

log = logging.getLogger(__name__)

RELAY_SHUTDOWN_TIMEOUT = 10.0


def create_app(settings: Settings, with_relay: bool = False) -> web.Application:
    """Build the HTTP application; resources open at start-up and close at shutdown."""
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[request_id_middleware, metrics_middleware, error_middleware],
    )
    app[SETTINGS] = settings
    app[LOGIN_THROTTLE] = FailureThrottle()
    app[RATE_LIMITER] = RateLimiter(settings.rate_limit_calls, settings.rate_limit_interval)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_admin_bootstrap)
    app.cleanup_ctx.append(_auth_cache)
    if with_relay:
        app.cleanup_ctx.append(_relay)
    for module in (accounts, oauth_apps, operations):
        app.router.add_routes(module.routes)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    database = Database.connect(app[SETTINGS].database_url)
    try:
        await check_connection(database.engine)
        app[DATABASE] = database
        pressure = OutboxPressure(database)
        pressure.start()
        app[APP_WRITER] = writer = AppWriter(database, before_write=pressure.wait)
        yield
        await writer.close()  # requests are finished by now: nothing more will queue
        await pressure.close()
    finally:
        await database.dispose()


async def _relay(app: web.Application) -> AsyncIterator[None]:
    relay = RelayThread(Relay.from_settings(app[SETTINGS]))
    relay.start()
    yield
    # After the HTTP server stopped: let the relay finish the batch in hand.
    if not await relay.stop(RELAY_SHUTDOWN_TIMEOUT):
        log.warning("relay did not stop in time; its events stay in the outbox")


async def _auth_cache(app: web.Application) -> AsyncIterator[None]:
    cache = app[AUTH_CACHE] = AuthCache()

    def listening(state: bool) -> None:
        cache.listening = state
        cache.clear()

    stop = asyncio.Event()
    task = asyncio.create_task(
        listen(app[SETTINGS].database_url, AUTH_CHANGED_CHANNEL, cache.clear, listening, stop),
        name="auth-changes",
    )
    yield
    stop.set()
    await task


async def _admin_bootstrap(app: web.Application) -> AsyncIterator[None]:
    admin = app[SETTINGS].admin
    if admin is not None:
        created = await ensure_user(
            app[DATABASE], admin.username, admin.password, admin.email, ("admin", "user")
        )
        if created:
            log.info("created admin user", extra={"fields": {"username": admin.username}})
    yield
