"""The aiohttp application factory: the composition root's resources, then the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp_jinja2
import jinja2
from aiohttp import web

from service import bootstrap
from service.api import oauth2
from service.api.bodies import MAX_BODY_BYTES
from service.api.connections import ConnectionGuard, ConnectionLimits
from service.api.handlers import accounts, health, oauth_apps, permissions
from service.api.keys import (
    APP_WRITER,
    AUTH_CACHE,
    CONNECTION_GUARD,
    DATABASE,
    OAUTH2,
    PASSWORD_CHECKS,
    RATE_LIMITER,
    READINESS,
    SETTINGS,
)
from service.api.middlewares import request_middleware
from service.api.oauth2 import cors
from service.config import Settings
from service.domain.rate_limit import RateLimiter
from service.usecases.password_checks import PasswordChecks


def create_application(settings: Settings, *, with_relay: bool = False) -> web.Application:
    """Build the HTTP application; resources open at start-up and close at shutdown."""
    guard = ConnectionGuard(
        ConnectionLimits(
            header_timeout=settings.http_header_timeout,
            body_timeout=settings.http_body_timeout,
            keepalive_timeout=settings.http_keepalive_timeout,
            max_connections=settings.http_max_connections,
        )
    )
    application = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[request_middleware(guard)],
    )
    application[SETTINGS] = settings
    application[CONNECTION_GUARD] = guard
    application.on_cleanup.append(lambda _: guard.close())
    application[RATE_LIMITER] = RateLimiter(settings.rate_limit_calls, settings.rate_limit_interval)
    # What can refuse to start (the database, the signing keys) before what runs by itself.
    application.cleanup_ctx.extend([_database, _process_session, _oauth2, _app_writer, _readiness])
    if with_relay:
        application.cleanup_ctx.append(_relay)
    # Pages of the authorization flow: autoescaped templates, never a user's raw text.
    aiohttp_jinja2.setup(
        application,
        loader=jinja2.PackageLoader("service.api", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    for routes in (accounts.routes, oauth_apps.routes, permissions.routes, *oauth2.ROUTES):
        application.router.add_routes(routes)
    # Single-page apps call the token endpoints from their own origins.
    cors.add_preflights(application.router)
    application.on_response_prepare.append(cors.add_cors_headers)
    application.router.add_routes(health.routes)
    return application


async def _database(application: web.Application) -> AsyncIterator[None]:
    settings = application[SETTINGS]
    async with bootstrap.database(settings) as database:
        application[DATABASE] = database
        application[PASSWORD_CHECKS] = PasswordChecks(database)
        await bootstrap.admin_user(settings, database)
        yield


async def _app_writer(application: web.Application) -> AsyncIterator[None]:
    async with bootstrap.app_writer(application[DATABASE]) as writer:
        application[APP_WRITER] = writer
        yield


async def _process_session(application: web.Application) -> AsyncIterator[None]:
    async with bootstrap.process_session(application[SETTINGS]) as cache:
        application[AUTH_CACHE] = cache
        yield


async def _oauth2(application: web.Application) -> AsyncIterator[None]:
    async with bootstrap.oauth2_services(
        application[SETTINGS], application[DATABASE], application[AUTH_CACHE]
    ) as services:
        application[OAUTH2] = services
        yield


async def _readiness(application: web.Application) -> AsyncIterator[None]:
    async with bootstrap.readiness(application[SETTINGS], application[DATABASE]) as probe:
        application[READINESS] = probe
        yield


async def _relay(application: web.Application) -> AsyncIterator[None]:
    async with bootstrap.relay_thread(application[SETTINGS]):
        yield
