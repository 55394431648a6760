"""Dead-letter queues read and replayed on the real broker: order and depth are kept."""

from __future__ import annotations

import aio_pika

from service.config import Settings
from service.events.broker import Broker
from service.events.dead_letters import list_dead_letters, replay_dead_letters
from service.events.topology import Topology
from tests.support.broker import Observer, collect, queue_length


async def fill(settings: Settings, queue: str, count: int) -> list[str]:
    """Put ``count`` messages on ``queue`` in order, as they would have died; return their ids."""
    ids = [f"dead-{number:02d}" for number in range(count)]
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for message_id in ids:
            death = {"queue": "audit", "reason": "rejected", "count": 1}
            await channel.default_exchange.publish(
                aio_pika.Message(b"{}", message_id=message_id, headers={"x-death": [death]}),
                routing_key=queue,
            )
    return ids


async def test_listing_leaves_order_and_depth_and_replay_keeps_the_order_of_death(
    settings: Settings, observer: Observer
) -> None:
    spec = Topology(settings.events_exchange).queue("audit")
    broker = Broker(settings.amqp_url)
    ids = await fill(settings, spec.dead_letter_queue, 20)

    for _ in range(3):
        listed = await list_dead_letters(broker, spec, 100)
        assert [letter.message_id for letter in listed] == ids
        assert await queue_length(settings.amqp_url, spec.dead_letter_queue) == 20
    first = await list_dead_letters(broker, spec, 5)
    assert [letter.message_id for letter in first] == ids[:5]
    assert [letter.message_id for letter in await list_dead_letters(broker, spec, 100)] == ids

    assert await replay_dead_letters(broker, spec, set(ids[5:10]), 100) == ids[5:10]
    assert await replay_dead_letters(broker, spec, None, 100) == ids[:5] + ids[10:]
    replayed = await collect(settings.amqp_url, spec.name, 20)
    assert [message.message_id for message in replayed] == ids[5:10] + ids[:5] + ids[10:]
    assert await queue_length(settings.amqp_url, spec.dead_letter_queue) == 0
