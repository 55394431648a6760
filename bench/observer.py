"""When each app's created event arrives on the exchange: the event lag."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aio_pika
import orjson

from bench.environment import AMQP, CONSUMER_QUEUES, EXCHANGE


class Observer:
    """Records when each app's created event arrives on a queue bound to the exchange."""

    def __init__(self) -> None:
        # App id -> wall-clock time of arrival, comparable with wrk's response times.
        self.arrivals: dict[str, float] = {}

    async def start(self) -> None:
        self.connection = await aio_pika.connect(AMQP)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=1000)
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, "#")
        await queue.consume(self._on_message, no_ack=True)

    async def empty_consumer_queues(self) -> None:
        """Purge the audit and notification queues, which fill up with no consumer running.

        Every level starts from empty queues: RabbitMQ's CPU per message grows with the
        messages queued (with 150,000 queued it was 2.5x its cost on empty queues), so
        without this each level would pay for the ones before it, the baseline (run
        last) most of all.
        """
        for name in CONSUMER_QUEUES:
            # Not declared yet before the first start: the service's relay declares it.
            async with await self.connection.channel() as channel:
                with contextlib.suppress(aio_pika.exceptions.ChannelNotFoundEntity):
                    await (await channel.get_queue(name)).purge()

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.arrivals[orjson.loads(message.body)["subject"]] = time.time()

    async def drain(self, sent: dict[str, float], timeout: float = 60) -> list[float]:
        """Wait for the events of the apps ``sent`` (id -> time of the HTTP 200); their lags."""
        deadline = time.perf_counter() + timeout
        while (
            any(app_id not in self.arrivals for app_id in sent) and time.perf_counter() < deadline
        ):
            await asyncio.sleep(0.05)
        return [self.arrivals[a] - t for a, t in sent.items() if a in self.arrivals]
