"""Faults beyond an outage: a busy database must delay events, never lose or reorder them."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import yarl
from sqlalchemy.engine import URL

from service.config import Settings
from service.events.topology import Topology
from service.persistence.database import asyncpg_dsn
from tests.conftest import start_client
from tests.support.broker import Observer, queue_length
from tests.support.http import create_over_http
from tests.support.processes import Stack, free_port
from tests.support.rabbitmq_node import private_rabbitmq
from tests.support.waiting import eventually

V1 = "/api/v1/oauth-apps"


@contextlib.asynccontextmanager
async def lock_timeout_for_new_connections(url: URL, timeout: str) -> AsyncIterator[None]:
    """Make every new session of the test database give up lock waits after ``timeout``."""
    admin = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await admin.execute(f"ALTER DATABASE \"{url.database}\" SET lock_timeout = '{timeout}'")
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{url.database}" RESET lock_timeout')
        await admin.close()


@contextlib.asynccontextmanager
async def table_locked(url: URL, table: str) -> AsyncIterator[None]:
    """Hold an exclusive lock on ``table`` until the block ends."""
    holder = await asyncpg.connect(asyncpg_dsn(url))
    transaction = holder.transaction()
    await transaction.start()
    try:
        await holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        await transaction.rollback()
        await holder.close()


async def test_lock_timeouts_in_the_audit_consumer_delay_events_in_order(
    stack: Stack,
    observer: Observer,
    settings: Settings,
    admin: dict[str, str],
    db: asyncpg.Connection,
) -> None:
    async with lock_timeout_for_new_connections(settings.database_url, "200ms"):
        base = await stack.serve()
        await stack.start("audit", "consume", "audit")
        async with aiohttp.ClientSession(base, headers=admin) as http:
            body = {"name": "v0", "active": True, "redirectUri": "https://a.test"}
            async with http.post(f"{V1}.create", json=body) as response:
                app_id = (await response.json())["application"]["_id"]
            await observer.wait_for(1)
            async with table_locked(settings.database_url, "audit_log"):
                for version in range(1, 6):
                    change = body | {"appId": app_id, "name": f"v{version}"}
                    async with http.post(f"{V1}.update", json=change) as response:
                        assert response.status == 200
                await observer.wait_for(6)
                # The consumer has hit the lock timeout and holds the event in hand.
                await stack.wait_for_log("audit", "retrying the event in place")

    async def all_audited() -> bool:
        return await db.fetchval("SELECT count(*) FROM audit_log") == 6

    await eventually(all_audited)
    names = await db.fetch("SELECT data->'application'->>'name' AS name FROM audit_log ORDER BY id")
    assert [row["name"] for row in names] == [f"v{n}" for n in range(6)]  # in order
    assert await queue_length(settings.amqp_url, f"{settings.events_exchange}.audit.dlq") == 0
    assert '"redelivered"' not in stack.log("audit").read_text()


async def test_a_lock_timeout_in_the_api_is_a_503_with_retry_after(
    settings: Settings, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    async with lock_timeout_for_new_connections(settings.database_url, "200ms"):
        client = await start_client(settings)  # its pool opens with the timeout
        try:
            async with table_locked(settings.database_url, "oauth_apps"):
                body = {"name": "n", "active": True, "redirectUri": "https://a.test"}
                response = await client.post(f"{V1}.create", json=body, headers=admin)
            assert response.status == 503
            assert response.headers["Retry-After"] == "1"
            assert (await response.json())["errorType"] == "error-service-unavailable"
        finally:
            await client.close()
    assert await db.fetchval("SELECT count(*) FROM oauth_apps") == 0


async def test_a_relay_that_cannot_reach_the_broker_never_blocks_a_standby(
    stack: Stack, observer: Observer, admin: dict[str, str]
) -> None:
    healthy_url = stack.env["AMQP_URL"]
    stack.env["AMQP_URL"] = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    await stack.start("relay-unreachable", "relay", wait_ready=False)
    await stack.wait_for_log("relay-unreachable", "relay interrupted")
    stack.env["AMQP_URL"] = healthy_url
    await stack.start("relay-healthy", "relay")
    base = await stack.serve("--no-relay")
    await create_over_http(base, admin, 20)
    await observer.wait_for(20, timeout=15)
    assert '"relay active"' not in stack.log("relay-unreachable").read_text()


async def test_a_frozen_relay_loses_the_lead_to_a_standby(
    stack: Stack, observer: Observer, admin: dict[str, str]
) -> None:
    stack.env["RELAY_LEADERSHIP_TIMEOUT_SECONDS"] = "3"
    frozen = await stack.start("relay-frozen", "relay")
    base = await stack.serve("--no-relay")
    await create_over_http(base, admin, 1)
    await observer.wait_for(1)
    frozen.send_signal(signal.SIGSTOP)
    try:
        await stack.start("relay-standby", "relay", wait_ready=False)
        await create_over_http(base, admin, 20)
        await observer.wait_for(21, timeout=15)
        standby = stack.log("relay-standby").read_text()
        # It said it stood by, then that it took over.
        assert standby.index('"relay standing by"') < standby.index('"relay active"')
    finally:
        frozen.send_signal(signal.SIGCONT)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Read until the server closes the connection; fail if it is still open after ``seconds``.

    A connection reset counts as closed: the server may cut a client in mid-write.
    """
    try:
        return await asyncio.wait_for(reader.read(), seconds)
    except ConnectionError:
        return b""


async def test_idle_and_slow_clients_are_cut_off(stack: Stack) -> None:
    stack.env |= {
        "HTTP_HEADER_TIMEOUT_SECONDS": "1",
        "HTTP_BODY_TIMEOUT_SECONDS": "1",
        "HTTP_KEEPALIVE_TIMEOUT_SECONDS": "1",
    }
    base = yarl.URL(await stack.serve("--no-relay"))
    assert base.port is not None

    # Connects and sends nothing.
    idle_reader, _ = await asyncio.open_connection("127.0.0.1", base.port)
    assert await closed_within(idle_reader, 5) == b""

    # Trickles a header line every 0.3 s, never finishing.
    reader, writer = await asyncio.open_connection("127.0.0.1", base.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for n in range(30):
                writer.write(f"X-Slow-{n}: y\r\n".encode())
                await writer.drain()
                await asyncio.sleep(0.3)

    trickling = asyncio.ensure_future(trickle())
    assert await closed_within(reader, 5) == b""
    trickling.cancel()

    # Declares a body and never sends it.
    reader, writer = await asyncio.open_connection("127.0.0.1", base.port)
    writer.write(
        b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    answer = await closed_within(reader, 5)
    assert answer.startswith(b"HTTP/1.1 408"), answer

    # A keep-alive connection that goes quiet after a request.
    reader, writer = await asyncio.open_connection("127.0.0.1", base.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in await closed_within(reader, 5)


async def test_past_the_connection_ceiling_clients_get_503_not_a_dead_server(
    stack: Stack,
) -> None:
    stack.env |= {"HTTP_MAX_CONNECTIONS": "20", "HTTP_HEADER_TIMEOUT_SECONDS": "2"}
    base = yarl.URL(await stack.serve("--no-relay"))
    assert base.port is not None
    idle = [await asyncio.open_connection("127.0.0.1", base.port) for _ in range(20)]
    reader, writer = await asyncio.open_connection("127.0.0.1", base.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    refused = await closed_within(reader, 5)
    assert refused.startswith(b"HTTP/1.1 503") and b"error-service-unavailable" in refused
    # Once the idle sockets are cut off, the server answers again.
    for idle_reader, _ in idle:
        assert await closed_within(idle_reader, 10) == b""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/health") as response:
        assert response.status == 200


async def test_a_memory_alarm_holds_the_relay_on_one_connection_until_it_clears(
    stack: Stack, settings: Settings, admin: dict[str, str], tmp_path: Path
) -> None:
    async with private_rabbitmq(tmp_path / "rabbitmq") as node:
        topology = Topology(settings.events_exchange)
        observer = Observer(node.amqp_url, topology)
        await observer.setup()
        metrics_port = free_port()
        stack.env |= {
            "AMQP_URL": node.amqp_url,
            "RELAY_LEADERSHIP_TIMEOUT_SECONDS": "2",
            "METRICS_PORT": str(metrics_port),
        }
        await stack.start("relay", "relay")
        del stack.env["METRICS_PORT"]
        base = await stack.serve("--no-relay")
        await create_over_http(base, admin, 1)
        await observer.wait_for(1)

        await node.ctl("set_vm_memory_high_watermark", "0.000001")
        await create_over_http(base, admin, 20)  # creates go on: the outbox holds the events
        await stack.wait_for_log("relay", "broker blocked publishing")

        async def reported_blocked() -> bool:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{metrics_port}/metrics") as response,
            ):
                return "oauth_apps_relay_broker_blocked 1.0" in await response.text()

        await eventually(reported_blocked, timeout=5)
        # Several leadership timeouts pass: the relay keeps its one connection.
        await asyncio.sleep(6)
        listed = await node.ctl("list_connections", "--quiet", "--no-table-headers", "name")
        connections = [line for line in listed.splitlines() if line.strip()]
        assert len(connections) == 1, connections
        await node.ctl("set_vm_memory_high_watermark", "0.4")
        await observer.wait_for(21, timeout=30)
        await stack.wait_for_log("relay", "broker unblocked publishing")
        await stack.stop_all()
