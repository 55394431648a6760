"""Typed keys of everything the application holds."""

from __future__ import annotations

from aiohttp import web

from service.api.connections import ConnectionGuard
from service.config import Settings
from service.domain.rate_limit import RateLimiter
from service.persistence.database import Database
from service.usecases.auth_cache import AuthCache
from service.usecases.group_commit import AppWriter
from service.usecases.oauth2.stores import OAuth2Services
from service.usecases.password_checks import PasswordChecks
from service.usecases.readiness import ReadinessProbe

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
PASSWORD_CHECKS = web.AppKey("password_checks", PasswordChecks)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
AUTH_CACHE = web.AppKey("auth_cache", AuthCache)
APP_WRITER = web.AppKey("app_writer", AppWriter)
OAUTH2 = web.AppKey("oauth2", OAuth2Services)
READINESS = web.AppKey("readiness", ReadinessProbe)
CONNECTION_GUARD = web.AppKey("connection_guard", ConnectionGuard)
