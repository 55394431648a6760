"""Consumers under restarts and misbehaving webhooks: only real failures dead-letter."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator

import aio_pika
import asyncpg
import orjson
import pytest
from aiohttp import web

from service.config import Settings
from service.domain.events import EventType, app_event
from service.domain.timestamps import utc_now
from tests.e2e.test_faults import table_locked
from tests.support.broker import Observer, collect, queue_length
from tests.support.processes import Stack, free_port
from tests.support.waiting import eventually
from tests.unit.usecases.fakes import ACTOR, new_app_row

RESTARTS = 12


async def publish_created(settings: Settings, count: int) -> list[str]:
    """Publish ``count`` creation events as the relay would; return their ids in order."""
    ids = []
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(settings.events_exchange)
        for number in range(count):
            row = new_app_row(f"restarted-{number}")
            event = app_event(EventType.CREATED, row.oauth_app, actor=ACTOR, now=utc_now())
            await exchange.publish(
                aio_pika.Message(
                    orjson.dumps(event.document),
                    message_id=str(event.id),
                    type=event.type.value,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=event.type.value,
            )
            ids.append(str(event.id))
    return ids


class Webhook:
    """``/hook`` answers ``status`` after ``delay``; ``/elsewhere`` is where a 307 points."""

    def __init__(self, status: int, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.keys: list[str] = []
        self.elsewhere: list[str] = []

    async def hook(self, request: web.Request) -> web.Response:
        self.keys.append(request.headers["Idempotency-Key"])
        await asyncio.sleep(self.delay)  # the slow receiver under test, not a wait
        return web.Response(status=self.status, headers={"Location": "/elsewhere"})

    async def redirected(self, request: web.Request) -> web.Response:
        self.elsewhere.append(request.headers["Idempotency-Key"])
        return web.Response(status=204)


@pytest.fixture
async def serve_webhook(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Webhook, str]]:
    """A local webhook with the status and delay the test's parameter names."""
    status, delay = request.param
    webhook = Webhook(status, delay)
    app = web.Application()
    app.router.add_post("/hook", webhook.hook)
    app.router.add_post("/elsewhere", webhook.redirected)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield webhook, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


async def sigterm(stack: Stack, name: str) -> int:
    """Stop one process gracefully and return its exit status."""
    process = stack.processes.pop(name)
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), 30)


@pytest.mark.parametrize("serve_webhook", [(204, 0.3)], indirect=True)
async def test_restarting_a_busy_notification_consumer_dead_letters_nothing(
    stack: Stack,
    observer: Observer,
    settings: Settings,
    db: asyncpg.Connection,
    serve_webhook: tuple[Webhook, str],
) -> None:
    webhook, url = serve_webhook
    stack.env["NOTIFY_WEBHOOK_URL"] = url
    dlq = f"{settings.events_exchange}.notification.dlq"
    ids = await publish_created(settings, 35)
    for restart in range(RESTARTS):
        name = f"notification-{restart}"
        seen = len(webhook.keys)
        await stack.start(name, "consume", "notification")

        # Each stop lands while a POST is in flight and the next events are prefetched.
        async def posting(seen: int = seen) -> bool:
            return len(webhook.keys) > seen or await _dead_letters(settings, dlq)

        await eventually(posting)
        assert await queue_length(settings.amqp_url, dlq) == 0, f"after {restart} restarts"
        if restart % 2:
            assert await sigterm(stack, name) == 0
        else:
            stack.kill(name)
    await stack.start("notification", "consume", "notification")

    async def all_notified() -> bool:
        marks = "SELECT count(*) FROM processed_events WHERE consumer = 'notification'"
        return await db.fetchval(marks) == len(ids)

    await eventually(all_notified, timeout=60)
    assert await queue_length(settings.amqp_url, dlq) == 0
    assert set(webhook.keys) == set(ids)


async def test_restarting_a_stuck_audit_consumer_dead_letters_nothing(
    stack: Stack, observer: Observer, settings: Settings, db: asyncpg.Connection
) -> None:
    dlq = f"{settings.events_exchange}.audit.dlq"
    ids = await publish_created(settings, 30)
    async with table_locked(settings.database_url, "audit_log"):
        for restart in range(RESTARTS):
            await stack.start(f"audit-{restart}", "consume", "audit")

            async def stuck(waiting: int = restart + 1) -> bool:
                # A killed consumer's session waits on too, so the count only grows.
                count = await db.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                return bool(count >= waiting) or await _dead_letters(settings, dlq)

            await eventually(stuck)
            assert await queue_length(settings.amqp_url, dlq) == 0, f"after {restart} restarts"
            stack.kill(f"audit-{restart}")
        await stack.start("audit", "consume", "audit")

    async def all_audited() -> bool:
        return await db.fetchval("SELECT count(*) FROM audit_log") == len(ids)

    await eventually(all_audited, timeout=60)
    assert await queue_length(settings.amqp_url, dlq) == 0
    rows = await db.fetch("SELECT event_id FROM audit_log ORDER BY id")
    assert [str(row["event_id"]) for row in rows] == ids  # one app each, in publish order


@pytest.mark.parametrize("serve_webhook", [(307, 0.0)], indirect=True)
async def test_a_redirect_is_a_failed_attempt_and_is_never_followed(
    stack: Stack,
    observer: Observer,
    settings: Settings,
    serve_webhook: tuple[Webhook, str],
) -> None:
    webhook, url = serve_webhook
    stack.env |= {"NOTIFY_WEBHOOK_URL": url, "NOTIFY_MAX_ATTEMPTS": "2"}
    await stack.start("notification", "consume", "notification")
    [event_id] = await publish_created(settings, 1)
    dlq = f"{settings.events_exchange}.notification.dlq"
    [dead] = await collect(settings.amqp_url, dlq, 1, timeout=30)
    assert dead.message_id == event_id
    assert webhook.keys == [event_id] * 2
    assert webhook.elsewhere == []  # neither the body nor its Idempotency-Key went there
    assert "HTTP 307" in stack.log("notification").read_text()


async def _dead_letters(settings: Settings, dlq: str) -> bool:
    return await queue_length(settings.amqp_url, dlq) > 0
