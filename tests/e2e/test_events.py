"""Events from the real processes (`serve`, `relay`, `consume`) observed on real queues."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import asyncpg
import orjson
import pytest
import yarl
from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web

from service.config import Settings
from service.domain.accounts import Principal
from service.domain.redirect_uris import RedirectUriPolicy
from service.persistence.database import Database
from service.usecases.group_commit import AppWriter
from service.usecases.oauth_apps import IssuedApp, register_oauth_app, update_oauth_app
from tests.conftest import reuse_event_id, start_client
from tests.support.broker import Observer, collect
from tests.support.http import create_over_http
from tests.support.processes import Stack, free_port
from tests.support.tcpproxy import TcpProxy
from tests.support.waiting import eventually

CREATE = "/api/v1/oauth-apps.create"


def body_of(message: AbstractIncomingMessage) -> dict[str, object]:
    document: dict[str, object] = orjson.loads(message.body)
    return document


async def test_created_event_on_the_queue_and_in_the_audit_log(
    stack: Stack, observer: Observer, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    base = await stack.serve()
    await stack.start("audit", "consume", "audit")
    [app] = await create_over_http(base, admin, 1)
    [message] = await observer.wait_for(1)

    assert message.routing_key == "oauth_app.created"
    assert message.content_type == "application/cloudevents+json"
    assert message.delivery_mode == 2
    assert message.type == "oauth_app.created"
    assert isinstance(message.timestamp, datetime)
    event = body_of(message)
    assert message.message_id == event["id"]
    uuid.UUID(str(event["id"]))
    assert {k: v for k, v in event.items() if k not in {"id", "time", "data"}} == {
        "specversion": "1.0",
        "source": "/oauth-apps",
        "type": "oauth_app.created",
        "subject": app["_id"],
        "datacontenttype": "application/json",
    }
    sent_at = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    assert abs(sent_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert event["data"] == {
        "application": {k: v for k, v in app.items() if k != "clientSecret"},
        "actor": {"_id": admin["X-User-Id"], "username": "math.bar"},
    }
    secret = str(app["clientSecret"])
    assert secret not in message.body.decode() and "clientSecret" not in message.body.decode()
    assert secret not in repr(message.headers) and secret not in repr(message.properties)

    async def audited() -> bool:
        return await db.fetchval("SELECT count(*) FROM audit_log") == 1

    await eventually(audited)
    # The consumer shows the event flowing: one line per event, with its type and subject.
    processed = [
        orjson.loads(line)
        for line in stack.log("audit").read_text().splitlines()
        if '"event processed"' in line
    ]
    assert [(p["type"], p["subject"]) for p in processed] == [("oauth_app.created", app["_id"])]
    entry = await db.fetchrow("SELECT * FROM audit_log")
    assert (str(entry["event_id"]), entry["app_id"], entry["actor_username"]) == (
        event["id"],
        app["_id"],
        "math.bar",
    )
    assert secret not in entry["data"]


async def test_broker_outage_loses_no_event(
    stack: Stack,
    observer: Observer,
    settings: Settings,
    admin: dict[str, str],
    db: asyncpg.Connection,
) -> None:
    # The service reaches RabbitMQ through a proxy that the test cuts: a real outage for
    # the service, while the machine's broker (and the observer) carry on.
    url = yarl.URL(settings.amqp_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5672)
    await proxy.start()
    stack.env["AMQP_URL"] = str(url.with_port(proxy.port))
    try:
        base = await stack.serve()
        await stack.start("audit", "consume", "audit")
        await create_over_http(base, admin, 1)
        await observer.wait_for(1)

        await proxy.cut()
        apps = await create_over_http(base, admin, 50)  # every create still succeeds
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 50
        await proxy.start()

        messages = await observer.wait_for(51, timeout=60)
        subjects = {body_of(m)["subject"] for m in messages}
        assert {app["_id"] for app in apps} <= subjects

        async def all_audited() -> bool:
            return await db.fetchval("SELECT count(DISTINCT event_id) FROM audit_log") == 51

        await eventually(all_audited, timeout=60)
    finally:
        await proxy.close()


async def test_relay_killed_mid_batch_loses_nothing_and_audit_counts_once(
    stack: Stack,
    observer: Observer,
    settings: Settings,
    database: Database,
    writer: AppWriter,
    admin: dict[str, str],
    db: asyncpg.Connection,
) -> None:
    principal = Principal(admin["X-User-Id"], "math.bar")
    total = 2000
    body = {"name": "bulk", "active": True, "redirectUri": "https://a.test"}
    for _ in range(total // 50):
        await asyncio.gather(
            *(
                register_oauth_app(
                    database, writer, principal, body=body, policy=RedirectUriPolicy.RFC6749
                )
                for _ in range(50)
            )
        )
    stack.env["RELAY_BATCH_SIZE"] = "20"
    await stack.start("audit", "consume", "audit")
    await stack.start("relay", "relay")

    async def some_published() -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"))

    await eventually(some_published)
    stack.kill("relay")
    published = await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
    assert 0 < published < total, "the kill should land while events are still pending"

    await stack.start("relay-again", "relay")

    async def all_published() -> bool:
        return await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0

    await eventually(all_published, timeout=60)
    event_ids = {e["event_id"] for e in await db.fetch("SELECT event_id FROM outbox")}
    assert len(event_ids) == total

    async def audit_complete() -> bool:
        return await db.fetchval("SELECT count(*) FROM audit_log") >= total

    await eventually(audit_complete, timeout=60)
    assert await db.fetchval("SELECT count(*) FROM audit_log") == total
    assert {r["event_id"] for r in await db.fetch("SELECT event_id FROM audit_log")} == event_ids
    messages = await observer.wait_for(total, timeout=60)  # at least once: duplicates allowed
    assert {uuid.UUID(str(body_of(m)["id"])) for m in messages} <= event_ids


async def test_poison_message_is_dead_lettered_and_consuming_goes_on(
    stack: Stack,
    observer: Observer,
    settings: Settings,
    admin: dict[str, str],
    db: asyncpg.Connection,
) -> None:
    await stack.start("audit", "consume", "audit")
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(settings.events_exchange)
        await exchange.publish(aio_pika.Message(b"{not json"), "oauth_app.created")
    [dead] = await collect(settings.amqp_url, f"{settings.events_exchange}.audit.dlq", 1)
    assert dead.body == b"{not json"

    base = await stack.serve()
    await create_over_http(base, admin, 1)

    async def audited() -> bool:
        return await db.fetchval("SELECT count(*) FROM audit_log") == 1

    await eventually(audited)


async def test_rollback_publishes_nothing(
    stack: Stack,
    observer: Observer,
    settings: Settings,
    admin: dict[str, str],
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await stack.start("relay", "relay")
    client = await start_client(settings)
    body = {"name": "first", "active": True, "redirectUri": "https://a.test"}
    try:
        assert (await client.post(CREATE, json=body, headers=admin)).status == 200
        reuse_event_id(monkeypatch, await db.fetchval("SELECT event_id FROM outbox"))
        doomed = await client.post(CREATE, json=body | {"name": "doomed"}, headers=admin)
        assert doomed.status == 500
        monkeypatch.undo()
        response = await client.post(CREATE, json=body | {"name": "kept"}, headers=admin)
        assert response.status == 200
        kept = (await response.json())["application"]
    finally:
        await client.close()
    # The relay publishes in commit order: had the failed create's event escaped, it
    # would come between the two others.
    first, last = await observer.wait_for(2)
    assert body_of(last)["subject"] == kept["_id"]
    names = [body_of(m)["data"]["application"]["name"] for m in (first, last)]  # type: ignore[index]
    assert names == ["first", "kept"]
    assert await db.fetchval("SELECT count(*) FROM outbox") == 2


class Webhook:
    """A local webhook that answers with ``status`` and records what it received."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[tuple[dict[str, str], dict[str, object]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        return web.Response(status=self.status)


async def start_webhook(status: int) -> tuple[Webhook, web.AppRunner, str]:
    webhook = Webhook(status)
    app = web.Application()
    app.router.add_post("/hook", webhook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return webhook, runner, f"http://127.0.0.1:{port}/hook"


async def test_notification_is_posted_once_with_the_event_id(
    stack: Stack, observer: Observer, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    webhook, runner, url = await start_webhook(204)
    try:
        stack.env["NOTIFY_WEBHOOK_URL"] = url
        await stack.start("notification", "consume", "notification")
        base = await stack.serve()
        [app] = await create_over_http(base, admin, 1)
        [message] = await observer.wait_for(1)

        async def notified() -> bool:
            return bool(await db.fetchval("SELECT count(*) FROM processed_events"))

        await eventually(notified)
    finally:
        await runner.cleanup()
    [(headers, notification)] = webhook.requests
    event_id = body_of(message)["id"]
    assert headers["Idempotency-Key"] == event_id
    assert notification["eventId"] == event_id and notification["event"] == "oauth_app.created"
    assert notification["application"] == {
        "_id": app["_id"],
        "name": app["name"],
        "clientId": app["clientId"],
    }
    assert notification["createdBy"] == {"_id": admin["X-User-Id"], "username": "math.bar"}
    assert str(app["clientSecret"]) not in orjson.dumps(notification).decode()


async def test_failing_webhook_is_retried_then_dead_lettered(
    stack: Stack, observer: Observer, settings: Settings, admin: dict[str, str]
) -> None:
    webhook, runner, url = await start_webhook(500)
    try:
        stack.env |= {"NOTIFY_WEBHOOK_URL": url, "NOTIFY_MAX_ATTEMPTS": "3"}
        await stack.start("notification", "consume", "notification")
        base = await stack.serve()
        [app] = await create_over_http(base, admin, 1)
        dlq = f"{settings.events_exchange}.notification.dlq"
        [dead] = await collect(settings.amqp_url, dlq, 1, timeout=30)
    finally:
        await runner.cleanup()
    assert body_of(dead)["subject"] == app["_id"]
    assert len(webhook.requests) == 3
    assert len({headers["Idempotency-Key"] for headers, _ in webhook.requests}) == 1


async def test_every_change_is_published_in_order_without_secrets(
    stack: Stack,
    observer: Observer,
    settings: Settings,
    admin: dict[str, str],
    db: asyncpg.Connection,
) -> None:
    await stack.start("relay", "relay")
    await stack.start("audit", "consume", "audit")
    client = await start_client(settings)
    secrets = []
    try:
        response = await client.post(
            CREATE,
            json={"name": "life", "active": True, "redirectUri": "https://a.test"},
            headers=admin,
        )
        app = (await response.json())["application"]
        secrets.append(app["clientSecret"])
        change = {
            "appId": app["_id"],
            "name": "renamed",
            "active": False,
            "redirectUri": "https://b.test",
        }
        updated = await (
            await client.post("/api/v1/oauth-apps.update", json=change, headers=admin)
        ).json()
        rotated = await client.post(
            "/api/v1/oauth-apps.rotateSecret", json={"appId": app["_id"]}, headers=admin
        )
        after_rotation = (await rotated.json())["application"]
        secrets.append(after_rotation["clientSecret"])
        deleted = await client.post(
            "/api/v1/oauth-apps.delete", json={"appId": app["_id"]}, headers=admin
        )
        assert deleted.status == 200
    finally:
        await client.close()

    messages = await observer.wait_for(4)
    events = [body_of(m) for m in messages]
    assert [m.routing_key for m in messages] == [
        "oauth_app.created",
        "oauth_app.updated",
        "oauth_app.secret_rotated",
        "oauth_app.deleted",
    ]
    assert [e["type"] for e in events] == [m.routing_key for m in messages]
    applications = [e["data"]["application"] for e in events]  # type: ignore[index]
    assert applications[0]["name"] == "life"
    assert applications[1] == {k: v for k, v in updated.items() if k != "success"}
    assert applications[2] == {k: v for k, v in after_rotation.items() if k != "clientSecret"}
    assert applications[3] == applications[2]  # the deleted app as it was
    for message in messages:
        assert not any(secret in message.body.decode() for secret in secrets)

    async def audited() -> bool:
        return await db.fetchval("SELECT count(*) FROM audit_log") == 4

    await eventually(audited)
    rows = await db.fetch("SELECT event_type, data::text FROM audit_log ORDER BY id")
    assert [r["event_type"] for r in rows] == [m.routing_key for m in messages]
    assert not any(secret in r["data"] for r in rows for secret in secrets)


async def test_one_relay_publishes_the_other_stands_by_and_takes_over(
    stack: Stack,
    observer: Observer,
    database: Database,
    writer: AppWriter,
    admin: dict[str, str],
) -> None:
    principal = Principal(admin["X-User-Id"], "math.bar")
    policy = RedirectUriPolicy.RFC6749
    body = {"name": "v0", "active": True, "redirectUri": "https://a.test"}

    async def create_and_update(count: int) -> list[str]:
        ids = []
        for _ in range(count):
            issued = await register_oauth_app(database, writer, principal, body=body, policy=policy)
            assert isinstance(issued, IssuedApp)
            for version in range(1, 4):
                change = body | {"appId": issued.oauth_app.id, "name": f"v{version}"}
                await update_oauth_app(database, principal, change, policy=policy)
            ids.append(issued.oauth_app.id)
        return ids

    await stack.start("relay-1", "relay")
    await stack.start("relay-2", "relay", wait_ready=False)
    first = await create_and_update(10)
    await observer.wait_for(40)
    assert '"relay active"' not in stack.log("relay-2").read_text()  # it stands by

    stack.kill("relay-1")
    await stack.wait_for_log("relay-2", '"relay active"')
    second = await create_and_update(10)
    messages = await observer.wait_for(80)
    for app_id in first + second:
        names = [
            body_of(m)["data"]["application"]["name"]  # type: ignore[index]
            for m in messages
            if body_of(m)["subject"] == app_id
        ]
        assert names == ["v0", "v1", "v2", "v3"], names  # each app's events in order


async def test_a_permission_change_is_an_event_the_audit_consumer_records(
    stack: Stack,
    observer: Observer,
    settings: Settings,
    admin: dict[str, str],
    db: asyncpg.Connection,
) -> None:
    await stack.start("relay", "relay")
    await stack.start("audit", "consume", "audit")
    client = await start_client(settings)
    update = "/api/v1/permissions.update"
    try:
        grant = {"permissions": [{"_id": "api-bypass-rate-limit", "roles": ["admin", "user"]}]}
        assert (await client.post(update, json=grant, headers=admin)).status == 200
        restore = {"permissions": [{"_id": "api-bypass-rate-limit", "roles": ["admin"]}]}
        assert (await client.post(update, json=restore, headers=admin)).status == 200
    finally:
        await client.close()
    messages = await observer.wait_for(2)
    assert [m.routing_key for m in messages] == ["permission.updated"] * 2

    async def audited() -> bool:
        return await db.fetchval("SELECT count(*) FROM audit_log") == 2

    await eventually(audited)
    rows = await db.fetch("SELECT event_type, app_id, data FROM audit_log ORDER BY id")
    assert [(r["event_type"], r["app_id"]) for r in rows] == [
        ("permission.updated", "api-bypass-rate-limit")
    ] * 2
    assert [orjson.loads(r["data"])["permission"]["roles"] for r in rows] == [
        ["admin", "user"],
        ["admin"],
    ]
