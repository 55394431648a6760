"""Declaring the topology over queues that an older version declared."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aio_pika
import pytest

from service.config import Settings
from service.events.topology import Topology, declare
from tests.support.broker import collect, delete_topology


@pytest.fixture
async def legacy(settings: Settings) -> AsyncIterator[Topology]:
    """A topology whose consumer queues carry the delivery limit of 10 of earlier versions."""
    topology = Topology(f"{settings.events_exchange}.legacy")
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        for spec in topology.queues:
            await channel.declare_queue(
                spec.name,
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-dead-letter-exchange": topology.dead_letter_exchange,
                    "x-dead-letter-routing-key": spec.name,
                    "x-delivery-limit": 10,
                },
            )
    yield topology
    await delete_topology(settings.amqp_url, topology)


async def test_queues_of_an_older_version_are_kept_and_the_channel_still_publishes(
    settings: Settings, legacy: Topology, caplog: pytest.LogCaptureFixture
) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        # As the relay opens it: confirms, and unroutable messages raised.
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        with caplog.at_level(logging.WARNING, logger="service.events.topology"):
            exchange = await declare(channel, legacy)
        kept = [record.fields["queue"] for record in caplog.records]  # type: ignore[attr-defined]
        assert kept == [spec.name for spec in legacy.queues]
        await exchange.publish(
            aio_pika.Message(b"{}", message_id="m"), "oauth_app.created", mandatory=True
        )
    for spec in legacy.queues:  # both bindings were made after the refusal
        [message] = await collect(settings.amqp_url, spec.name, 1)
        assert message.message_id == "m"
