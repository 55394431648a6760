"""Listening to PostgreSQL notifications on a dedicated connection, with reconnection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy.engine import URL

from service.domain.backoff import Backoff
from service.persistence.database import asyncpg_dsn
from service.waiting import wait_any

log = logging.getLogger(__name__)

HEALTH_CHECK_INTERVAL = 5.0


async def listen(
    url: URL,
    channel: str,
    on_notification: Callable[[], None],
    on_listening: Callable[[bool], None],
    stop: asyncio.Event,
) -> None:
    """Call ``on_notification`` for each notification on ``channel`` until ``stop``.

    ``on_listening(False)`` is called whenever notifications may be missed (not yet
    connected, connection lost), ``on_listening(True)`` once listening again.
    """
    backoff = Backoff(initial=0.2, cap=5.0)
    while not stop.is_set():
        connection: asyncpg.Connection | None = None
        try:
            connection = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
            await connection.add_listener(channel, lambda *_: on_notification())
            on_listening(True)
            backoff.reset()
            while not stop.is_set():
                # A silent network failure would otherwise look like "no changes".
                await connection.fetchval("SELECT 1", timeout=HEALTH_CHECK_INTERVAL)
                await wait_any(stop, timeout=HEALTH_CHECK_INTERVAL)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            on_listening(False)
            log.warning("notification listener lost", extra={"fields": {"error": str(error)}})
            await wait_any(stop, timeout=backoff.next_delay())
        finally:
            on_listening(False)
            if connection is not None and not connection.is_closed():
                await connection.close()
