"""Listening to PostgreSQL notifications on a dedicated connection, with reconnection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.engine import URL

from service.domain.backoff import Backoff
from service.persistence.database import asyncpg_dsn
from service.waiting import wait_any

log = logging.getLogger(__name__)

HEALTH_CHECK_INTERVAL = 5.0


class PgListener:
    """Calls ``on_notification(payload)`` for each notification on ``channel``, start to close.

    ``on_listening(False)`` is called whenever notifications may be missed (not yet
    connected, connection lost), ``on_listening(True)`` once listening again.
    ``on_connected`` runs on each new connection first: whatever it takes (a session
    lock) lasts as long as the connection.
    """

    def __init__(
        self,
        url: URL,
        channel: str,
        *,
        on_notification: Callable[[str], None],
        on_listening: Callable[[bool], None],
        on_connected: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
    ) -> None:
        self._url = url
        self._channel = channel
        self._on_notification = on_notification
        self._on_listening = on_listening
        self._on_connected = on_connected
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start listening in the background."""
        self._task = asyncio.create_task(self._listen(), name=f"listen-{self._channel}")

    async def close(self) -> None:
        """Stop listening and close the connection."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        backoff = Backoff(initial=0.2, cap=5.0)
        while not self._stop.is_set():
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(asyncpg_dsn(self._url), timeout=5)
                if self._on_connected is not None:
                    await self._on_connected(connection)
                await connection.add_listener(
                    self._channel, lambda *args: self._on_notification(args[-1])
                )
                self._on_listening(True)
                backoff.reset()
                while not self._stop.is_set():
                    # A silent network failure would otherwise look like "no changes".
                    await connection.fetchval("SELECT 1", timeout=HEALTH_CHECK_INTERVAL)
                    await wait_any(self._stop, timeout=HEALTH_CHECK_INTERVAL)
            except Exception as error:  # any failure, a failover's included: reconnect
                self._on_listening(False)
                log.warning("notification listener lost", extra={"fields": {"error": str(error)}})
                await wait_any(self._stop, timeout=backoff.next_delay())
            finally:
                self._on_listening(False)
                if connection is not None and not connection.is_closed():
                    await connection.close()
