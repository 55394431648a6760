"""A wrong ``AMQP_URL``: every command says in one line what is wrong, and ``serve`` serves on.

The three mistakes: a virtual host that does not exist (on the shared broker, creating
nothing), a wrong password, a port nothing listens on. The first two go through a
proxy that counts connections, so that a test knows the process has tried again.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import aiohttp
import asyncpg
import pytest
import yarl

from tests.conftest import RUN, TEST_AMQP_URL
from tests.support.http import create_over_http
from tests.support.processes import Stack, free_port, run_cli
from tests.support.tcpproxy import TcpProxy
from tests.support.waiting import eventually

BROKER = yarl.URL(TEST_AMQP_URL)

# Each mistake: how to make the URL from a port, the words that must name the problem,
# and the exit status of a one-shot command.
MISTAKES: dict[str, tuple[Callable[[int], str], str, int]] = {
    "missing vhost": (
        lambda port: f"amqp://guest:guest@127.0.0.1:{port}/{RUN}_missing",
        f"the virtual host '{RUN}_missing' does not exist",
        2,
    ),
    "wrong password": (
        lambda port: f"amqp://guest:wrong-password@127.0.0.1:{port}/",
        "refused the login of user 'guest'",
        2,
    ),
    "unreachable": (
        lambda _: f"amqp://guest:guest@127.0.0.1:{free_port()}/",
        "cannot reach RabbitMQ at 127.0.0.1:",
        1,
    ),
}


@contextlib.asynccontextmanager
async def counted_broker() -> AsyncIterator[TcpProxy]:
    """A proxy to the shared broker that counts the connections made through it."""
    proxy = TcpProxy(BROKER.host or "127.0.0.1", BROKER.port or 5672)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


def warnings_of(stack: Stack, name: str) -> list[str]:
    """The log lines of ``name`` at warning level or above."""
    lines = stack.log(name).read_text().splitlines()
    return [line for line in lines if '"level":"warning"' in line or '"level":"error"' in line]


@pytest.mark.parametrize("mistake", MISTAKES)
async def test_dlq_list_says_in_one_line_what_is_wrong(mistake: str, stack: Stack) -> None:
    url, words, status = MISTAKES[mistake]
    async with counted_broker() as proxy:
        done = await run_cli("dlq", "list", "audit", env=stack.env | {"AMQP_URL": url(proxy.port)})
    assert done.returncode == status, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "AMQP_URL" in done.stderr and words in done.stderr
    assert "wrong-password" not in done.stderr


@pytest.mark.parametrize("command", [("consume", "audit"), ("relay",)])
@pytest.mark.parametrize("mistake", MISTAKES)
async def test_a_long_running_command_says_it_once_per_streak(
    mistake: str, command: tuple[str, ...], stack: Stack
) -> None:
    url, words, _ = MISTAKES[mistake]
    async with counted_broker() as proxy:
        stack.env["AMQP_URL"] = url(proxy.port)
        await stack.start("broken", *command, wait_ready=False)

        async def reported() -> bool:
            return any("AMQP_URL" in line for line in warnings_of(stack, "broken"))

        await eventually(reported, timeout=20)
        if mistake != "unreachable":
            tried = proxy.accepted

            async def tried_twice_more() -> bool:
                return proxy.accepted >= tried + 2

            await eventually(tried_twice_more, timeout=20)
        [warning] = warnings_of(stack, "broken")  # aiormq's own lines are not there either
        assert words in warning and "AMQP_URL" in warning
        assert "wrong-password" not in stack.log("broken").read_text()


@pytest.mark.parametrize("mistake", MISTAKES)
async def test_serve_keeps_creating_and_ready_says_what_is_wrong(
    mistake: str, stack: Stack, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    url, words, _ = MISTAKES[mistake]
    async with counted_broker() as proxy:
        stack.env["AMQP_URL"] = url(proxy.port)
        base = await stack.serve()
        await create_over_http(base, admin, 2)
        async with aiohttp.ClientSession(base) as http, http.get("/ready") as response:
            assert response.status == 503
            body = await response.json()
        assert body["checks"]["database"] == "ok"
        assert "AMQP_URL" in body["checks"]["broker"] and words in body["checks"]["broker"]
        assert "wrong-password" not in body["checks"]["broker"]
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 2
