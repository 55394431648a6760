"""Typed keys of everything the application holds."""

from __future__ import annotations

from aiohttp import web

from service.api.connections import ConnectionGuard
from service.config import Settings
from service.domain.rate_limit import RateLimiter
from service.domain.throttle import FailureThrottle
from service.persistence.database import Database
from service.usecases.auth_cache import AuthCache
from service.usecases.group_commit import AppWriter
from service.usecases.readiness import ReadinessProbe
from service.usecases.token_batches import TokenBatches

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
LOGIN_THROTTLE = web.AppKey("login_throttle", FailureThrottle)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
AUTH_CACHE = web.AppKey("auth_cache", AuthCache)
APP_WRITER = web.AppKey("app_writer", AppWriter)
TOKEN_BATCHES = web.AppKey("token_batches", TokenBatches)
READINESS = web.AppKey("readiness", ReadinessProbe)
CONNECTION_GUARD = web.AppKey("connection_guard", ConnectionGuard)
