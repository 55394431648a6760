"""``/ready``: are PostgreSQL and RabbitMQ reachable, answered cheaply under any load.

The answer is kept for ``ttl`` seconds and computed by one caller at a time, and the
broker check reuses one connection of the process: a flood of probes costs neither
database connections nor broker connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from typing import Any

from aio_pika.abc import AbstractConnection
from sqlalchemy import text

from service.events.broker import Broker, describe
from service.persistence.database import Database

CHECK_TIMEOUT = 2.0


class ReadinessProbe:
    """Checks the database and the broker; ``None`` for a dependency means it answered."""

    def __init__(self, database: Database, broker: Broker, ttl: float = 1.0) -> None:
        self._database = database
        self._broker = broker
        self._ttl = ttl
        self._lock = asyncio.Lock()
        self._answer: dict[str, str | None] = {}
        self._answered_at = -float("inf")
        self._connection: AbstractConnection | None = None

    async def check(self) -> dict[str, str | None]:
        """Return each dependency's problem (or None), at most ``ttl`` seconds old."""
        if time.monotonic() - self._answered_at < self._ttl:
            return self._answer
        async with self._lock:
            if time.monotonic() - self._answered_at >= self._ttl:
                database, broker = await asyncio.gather(
                    _problem(self._database_answers()), _problem(self._broker_answers())
                )
                self._answer = {"database": database, "broker": broker}
                self._answered_at = time.monotonic()
        return self._answer

    async def close(self) -> None:
        """Close the broker connection."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()

    async def _database_answers(self) -> None:
        async with self._database.autocommit.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _broker_answers(self) -> None:
        if self._connection is None or self._connection.is_closed:
            await self.close()
            self._connection = await self._broker.connect()
        # A connection that stays open has passed the broker's heartbeats; a channel
        # round trip proves the broker still serves it.
        channel = await self._connection.channel()
        await channel.close()


async def _problem(probe: Coroutine[Any, Any, None]) -> str | None:
    """``None``, or what is wrong in words (a broker refusal names ``AMQP_URL``)."""
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:g} s"
    except Exception as error:  # any failure means "not ready"; the reason is reported
        return describe(error)
    return None
