"""The RabbitMQ topology, declared once: each consumer queue with its events and its handler.

The relay declares all of it before publishing, each consumer before consuming, and
``asyncapi.py`` describes the same objects. Exchange and queue names derive from
``EVENTS_EXCHANGE``, so that tests and benchmarks can use their own.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from service.domain.events import EventType

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

    from service.events.received import HandlerFactory

log = logging.getLogger(__name__)

# A safety net only: the broker counts every return of an unacked message, and a
# consumer that dies (SIGKILL, a crash, a lost connection) returns what it held, so a
# limit near the real attempts would dead-letter good events after a few restarts. The
# consumer counts real attempts itself (``consumer.py``); this catches a message that
# kills every consumer that takes it.
DELIVERY_LIMIT = 100


@dataclass(frozen=True, slots=True)
class ConsumerDeclaration:
    """A downstream consumer: which events its queue receives and what handles them."""

    name: str
    events: tuple[EventType, ...]
    # "module:Class": the class's ``from_resources`` builds the handler. A name, not an
    # import, so that the CLI and the topology load without the handlers' libraries.
    handler: str
    summary: str

    def handler_factory(self) -> HandlerFactory:
        """Import the handler class and return its ``from_resources``."""
        module, name = self.handler.split(":")
        return cast("HandlerFactory", getattr(importlib.import_module(module), name).from_resources)


# Adding a consumer: a handler module, and one entry here.
CONSUMERS: tuple[ConsumerDeclaration, ...] = (
    ConsumerDeclaration(
        name="audit",
        events=tuple(EventType),
        handler="service.events.audit:AuditRecorder",
        summary="writes one append-only audit_log row per event",
    ),
    ConsumerDeclaration(
        name="notification",
        events=(EventType.CREATED,),
        handler="service.events.notification:Notifier",
        summary="POSTs a notification of each new app to NOTIFY_WEBHOOK_URL, or logs it",
    ),
)


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A consumer's queue on one exchange: its name, bindings and dead-letter queue."""

    name: str
    consumer: ConsumerDeclaration

    @property
    def routing_keys(self) -> tuple[str, ...]:
        """The routing keys bound to this queue: its consumer's event types."""
        return tuple(event.value for event in self.consumer.events)

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
    def queues(self) -> tuple[QueueSpec, ...]:
        """Every consumer queue."""
        return tuple(QueueSpec(f"{self.exchange}.{c.name}", c) for c in CONSUMERS)

    def queue(self, consumer: str) -> QueueSpec:
        """The queue of the consumer called ``consumer``."""
        for spec in self.queues:
            if spec.consumer.name == consumer:
                return spec
        raise KeyError(consumer)


def consumer_names() -> tuple[str, ...]:
    """The names ``oauth-apps consume`` accepts."""
    return tuple(consumer.name for consumer in CONSUMERS)


async def declare(channel: AbstractChannel, topology: Topology) -> AbstractExchange:
    """Declare the whole topology (idempotent) and return the events exchange."""
    import aio_pika

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
        queue = await _declare_consumer_queue(channel, topology, spec)
        for routing_key in spec.routing_keys:
            await queue.bind(exchange, routing_key=routing_key)
    return exchange


async def _declare_consumer_queue(
    channel: AbstractChannel, topology: Topology, spec: QueueSpec
) -> AbstractQueue:
    """Declare a consumer queue, or take it as it is when an older version declared it."""
    import aiormq

    try:
        return await channel.declare_queue(
            spec.name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": topology.dead_letter_exchange,
                "x-dead-letter-routing-key": spec.name,
                "x-delivery-limit": DELIVERY_LIMIT,
            },
        )
    except aiormq.exceptions.ChannelPreconditionFailed as error:
        # RabbitMQ cannot change a queue's arguments, and refusing to start would stop
        # every event: keep the queue, its old delivery limit included, and say so
        # (docs/operations.md tells how to recreate it).
        log.warning(
            "queue declared with other arguments, kept as it is",
            extra={"fields": {"queue": spec.name, "error": str(error)}},
        )
        await channel.reopen()
        return await channel.declare_queue(spec.name, passive=True)
