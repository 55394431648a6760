"""The real RabbitMQ in tests: topology reset and removal, and an observer queue."""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from service.events.topology import Topology, declare


async def reset_topology(amqp_url: str, topology: Topology) -> None:
    """Declare the topology and empty every queue of it."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await declare(channel, topology)
        for spec in topology.queues:
            for name in (spec.name, spec.dead_letter_queue):
                await (await channel.get_queue(name)).purge()


async def delete_topology(amqp_url: str, topology: Topology) -> None:
    """Remove every exchange and queue of the topology, as a finished test run must."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for spec in topology.queues:
            await channel.queue_delete(spec.name)
            await channel.queue_delete(spec.dead_letter_queue)
        await channel.exchange_delete(topology.exchange)
        await channel.exchange_delete(topology.dead_letter_exchange)


async def queue_length(amqp_url: str, name: str) -> int:
    """How many messages wait on the queue ``name``."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        count = queue.declaration_result.message_count
        assert count is not None
        return count


class Observer:
    """A durable queue bound to every event, read by the test like any consumer would."""

    def __init__(self, amqp_url: str, topology: Topology) -> None:
        self._amqp_url = amqp_url
        self._topology = topology
        self.name = f"{topology.exchange}.test-observer"
        self.messages: list[AbstractIncomingMessage] = []

    async def setup(self) -> None:
        """Create the queue, empty."""
        connection = await aio_pika.connect(self._amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await declare(channel, self._topology)
            queue = await channel.declare_queue(self.name, durable=True)
            await queue.purge()
            await queue.bind(exchange, routing_key="#")

    async def delete(self) -> None:
        """Remove the queue."""
        connection = await aio_pika.connect(self._amqp_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(self.name)

    async def wait_for(self, count: int, timeout: float = 30) -> list[AbstractIncomingMessage]:
        """Collect messages until ``count`` have arrived in all, or fail at ``timeout``."""
        await collect(self._amqp_url, self.name, count, timeout, self.messages)
        return self.messages


async def collect(
    amqp_url: str,
    queue_name: str,
    count: int,
    timeout: float = 30,
    into: list[AbstractIncomingMessage] | None = None,
) -> list[AbstractIncomingMessage]:
    """Take messages off a queue until ``into`` holds ``count``, or fail at ``timeout``."""
    messages = [] if into is None else into
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue: AbstractQueue = await channel.get_queue(queue_name)
        deadline = asyncio.get_running_loop().time() + timeout
        while len(messages) < count:
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                messages.append(message)
                continue
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"{len(messages)} of {count} messages on {queue_name} within {timeout}s"
                )
            await asyncio.sleep(0.02)
    return messages
