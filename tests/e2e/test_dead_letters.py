"""``oauth-apps dlq list`` and ``dlq replay`` against the real broker and audit consumer."""

from __future__ import annotations

import aio_pika
import asyncpg
import orjson

from service.config import Settings
from service.domain.events import EventType, app_event
from service.domain.timestamps import utc_now
from tests.support.broker import Observer, queue_length
from tests.support.processes import Stack, run_cli
from tests.support.waiting import eventually
from tests.unit.usecases.fakes import ACTOR, new_app_row


async def dead_letter(settings: Settings, name: str) -> str:
    """Put a valid event on the audit dead-letter queue, as a failing consumer would."""
    row = new_app_row(name)
    event = app_event(EventType.CREATED, row.oauth_app, actor=ACTOR, now=utc_now())
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(
                orjson.dumps(event.document),
                message_id=str(event.id),
                type=event.type.value,
                headers={"x-death": [{"queue": "audit", "reason": "delivery_limit", "count": 10}]},
            ),
            routing_key=f"{settings.events_exchange}.audit.dlq",
        )
    return str(event.id)


async def test_dead_letters_are_listed_with_their_reason_and_replayed_by_id(
    stack: Stack, observer: Observer, settings: Settings, db: asyncpg.Connection
) -> None:
    first = await dead_letter(settings, "first")
    second = await dead_letter(settings, "second")
    listed = await run_cli("dlq", "list", "audit", env=stack.env)
    assert listed.returncode == 0, listed.stderr
    letters = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert [letter["messageId"] for letter in letters] == [first, second]
    assert letters[0]["deaths"][0]["reason"] == "delivery_limit"
    dlq = f"{settings.events_exchange}.audit.dlq"
    assert await queue_length(settings.amqp_url, dlq) == 2  # listing leaves them there

    await stack.start("audit", "consume", "audit")
    replayed = await run_cli("dlq", "replay", "audit", "--ids", second, env=stack.env)
    assert orjson.loads(replayed.stdout)["replayed"] == [second]

    async def audited(count: int) -> bool:
        return await db.fetchval("SELECT count(*) FROM audit_log") == count

    await eventually(lambda: audited(1))
    assert str(await db.fetchval("SELECT event_id FROM audit_log")) == second
    assert await queue_length(settings.amqp_url, dlq) == 1
    everything = await run_cli("dlq", "replay", "audit", env=stack.env)
    assert orjson.loads(everything.stdout)["replayed"] == [first]
    await eventually(lambda: audited(2))
    assert await queue_length(settings.amqp_url, dlq) == 0
