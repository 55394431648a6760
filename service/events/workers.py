"""Assembling the consumers for the ``consume`` and ``audit`` commands."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.config import Settings
from service.events.audit import AuditRecorder
from service.events.consumer import Consumer, EventHandler
from service.events.notification import Notifier
from service.events.topology import Topology
from service.persistence import audit
from service.persistence.database import Database, check_connection


async def consume(settings: Settings, name: str, stop: asyncio.Event) -> None:
    """Run the consumer called ``name`` until ``stop`` is set."""
    topology = Topology(settings.events_exchange)
    database = Database.connect(settings.database_url, pool_size=2)
    try:
        await check_connection(database.engine)
        sessions = database.sessions
        async with aiohttp.ClientSession() as http:
            handler: EventHandler
            if name == "audit":
                handler, queue = AuditRecorder(sessions), topology.audit
            else:
                handler = Notifier(
                    sessions, settings.notify_webhook_url, http, settings.notify_max_attempts
                )
                queue = topology.notification
            await Consumer(settings.amqp_url, topology, queue, handler).run(stop)
    finally:
        await database.dispose()


async def audit_entries(
    sessions: async_sessionmaker[AsyncSession], limit: int
) -> list[dict[str, Any]]:
    """Return the newest audit entries."""
    async with sessions() as session:
        return await audit.newest_entries(session, limit)
