"""How a process reaches RabbitMQ: one place that knows ``AMQP_URL``."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractConnection

CONNECT_TIMEOUT = 10.0


class Broker:
    """Opens connections to the broker named by ``AMQP_URL``."""

    def __init__(self, url: str, timeout: float = CONNECT_TIMEOUT) -> None:
        self.url = url
        self._timeout = timeout

    async def connect(self) -> AbstractConnection:
        """Open a new connection; the caller closes it."""
        return await aio_pika.connect(self.url, timeout=self._timeout)
