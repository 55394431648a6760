"""Reading and replaying a consumer's dead-letter queue (``oauth-apps dlq``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from service.events.broker import Broker
from service.events.topology import QueueSpec

# A prefetch count is 16 bits: no consumer can hold more unacknowledged messages.
MAX_HELD = 65_535
# The broker pushes what is waiting at once; a longer silence means nothing more comes.
DELIVERY_TIMEOUT = 5.0
# The queue takes the returned messages back a moment after the channel closed.
RETURN_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message in a dead-letter queue, and why it is there."""

    message_id: str | None
    type: str | None
    deaths: list[dict[str, Any]]
    body: bytes

    def to_document(self) -> dict[str, Any]:
        """The JSON line ``dlq list`` prints."""
        return {"messageId": self.message_id, "type": self.type, "deaths": self.deaths}


def _deaths(message: AbstractIncomingMessage) -> list[dict[str, Any]]:
    # x-death: one entry per queue and reason, newest first, kept by RabbitMQ.
    deaths = (message.headers or {}).get("x-death") or []
    summary = []
    for death in deaths if isinstance(deaths, list) else []:
        if isinstance(death, dict):
            summary.append(
                {
                    "queue": death.get("queue"),
                    "reason": death.get("reason"),
                    "count": death.get("count"),
                    "time": str(death.get("time")) if death.get("time") is not None else None,
                    "routingKeys": death.get("routing-keys"),
                }
            )
    return summary


@contextlib.asynccontextmanager
async def _held(
    broker: Broker, queue: str
) -> AsyncIterator[tuple[AbstractChannel, list[AbstractIncomingMessage]]]:
    """Hold every message of ``queue`` unacknowledged, in order; what is not acked goes back.

    The whole queue, through a consumer that is never cancelled: a quorum queue puts
    the messages of a closed channel back ahead of the rest in their order, but a part
    taken alone (or a cancelled consumer's) goes behind what was returned before, a
    ``nack`` with requeue to the tail, and messages taken by ``basic.get`` come back shuffled.
    """
    connection = await broker.connect()
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        dead = await channel.declare_queue(queue, passive=True)
        wanted = min(dead.declaration_result.message_count or 0, MAX_HELD)
        held: list[AbstractIncomingMessage] = []
        if wanted:
            await channel.set_qos(prefetch_count=wanted)
            arriving: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            await dead.consume(arriving.put)
            while len(held) < wanted:
                try:
                    held.append(await asyncio.wait_for(arriving.get(), DELIVERY_TIMEOUT))
                except TimeoutError:  # another reader holds the rest
                    break
        yield channel, held
        # Closing the channel returns every message not acknowledged, in its order.
        await channel.close()
        await _wait_until_back(connection, queue, sum(not m.processed for m in held))


async def _wait_until_back(connection: AbstractConnection, queue: str, count: int) -> None:
    """Return once ``queue`` has ``count`` messages ready again, so the next reader sees them."""
    deadline = asyncio.get_running_loop().time() + RETURN_TIMEOUT
    probe = await connection.channel()
    while asyncio.get_running_loop().time() < deadline:
        declared = await probe.declare_queue(queue, passive=True)
        if (declared.declaration_result.message_count or 0) >= count:
            return
        await asyncio.sleep(0.05)


async def list_dead_letters(broker: Broker, spec: QueueSpec, limit: int) -> list[DeadLetter]:
    """Return the oldest ``limit`` dead letters of a consumer's queue, leaving them there."""
    async with _held(broker, spec.dead_letter_queue) as (_, held):
        return [
            DeadLetter(message.message_id, message.type, _deaths(message), message.body)
            for message in held[:limit]
        ]


async def replay_dead_letters(
    broker: Broker, spec: QueueSpec, ids: Collection[str] | None, limit: int
) -> list[str]:
    """Move dead letters (all, or those with these message ids) back onto the live queue.

    Each is published to the live queue with confirms before it is removed from the
    dead-letter queue, in the order they died, so one app's events keep their order;
    the consumers deduplicate a replayed event that had been processed after all.
    """
    replayed: list[str] = []
    async with _held(broker, spec.dead_letter_queue) as (channel, held):
        for message in held:
            if len(replayed) == limit:
                break
            if ids is not None and message.message_id not in ids:
                continue
            await channel.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message.message_id,
                    type=message.type,
                    timestamp=message.timestamp,
                    app_id=message.app_id,
                ),
                routing_key=spec.name,
            )
            await message.ack()
            replayed.append(message.message_id or "")
    return replayed
