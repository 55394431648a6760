"""The RabbitMQ topology, declared in one place for the relay, the consumers and the docs."""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

# A message redelivered this many times (a consumer keeps crashing on it) is dead-lettered.
DELIVERY_LIMIT = 10


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A consumer queue: its bindings on the events exchange and its dead-letter queue."""

    name: str
    routing_keys: tuple[str, ...]

    @property
    def dead_letter_queue(self) -> str:
        """Name of the queue that receives what this queue dead-letters."""
        return f"{self.name}.dlq"


@dataclass(frozen=True, slots=True)
class Topology:
    """Every exchange, queue and binding, derived from ``EVENTS_EXCHANGE``."""

    exchange: str

    @property
    def dead_letter_exchange(self) -> str:
        """Direct exchange that routes dead letters by their original queue name."""
        return f"{self.exchange}.dlx"

    @property
    def audit(self) -> QueueSpec:
        """The audit consumer's queue: every event."""
        return QueueSpec(f"{self.exchange}.audit", ("oauth_app.*",))

    @property
    def notification(self) -> QueueSpec:
        """The notification consumer's queue: creations only."""
        return QueueSpec(f"{self.exchange}.notification", ("oauth_app.created",))

    @property
    def queues(self) -> tuple[QueueSpec, ...]:
        """Every consumer queue."""
        return (self.audit, self.notification)


async def declare(channel: AbstractChannel, topology: Topology) -> AbstractExchange:
    """Declare the whole topology (idempotent) and return the events exchange."""
    exchange = await channel.declare_exchange(
        topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dead_letters = await channel.declare_exchange(
        topology.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    for spec in topology.queues:
        dlq = await channel.declare_queue(
            spec.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dlq.bind(dead_letters, routing_key=spec.name)
        queue = await channel.declare_queue(
            spec.name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": topology.dead_letter_exchange,
                "x-dead-letter-routing-key": spec.name,
                "x-delivery-limit": DELIVERY_LIMIT,
            },
        )
        for routing_key in spec.routing_keys:
            await queue.bind(exchange, routing_key=routing_key)
    return exchange
