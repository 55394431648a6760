"""Typed keys of everything the application holds."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.config import Settings
from service.domain.rate_limit import RateLimiter
from service.domain.throttle import FailureThrottle

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessions")
LOGIN_THROTTLE = web.AppKey("login_throttle", FailureThrottle)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
