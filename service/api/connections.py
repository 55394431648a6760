"""Cutting off idle and slow clients, and refusing connections past a ceiling.

aiohttp keeps a connection that never finishes its headers open forever, and has no
limit on open connections: a few hundred idle sockets (a slowloris, or a broken load
balancer) would exhaust the process's file descriptors. Each connection here goes
through a guard that knows when it last started or finished a request:

- a new connection, or one that has begun a request, must finish its headers within
  ``header_timeout``;
- between requests, a keep-alive connection may stay idle ``keepalive_timeout``;
- a request body must arrive within ``body_timeout`` (``api/bodies.py``);
- past ``max_connections`` open at once, a new connection gets a 503 and is closed.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

SWEEP_INTERVAL = 0.25
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: 113\r\n\r\n"
    b'{"success":false,"error":"Too many open connections [error-service-unavailable]",'
    b'"errorType":"error-service-unavailable"}'
)


def default_max_connections() -> int:
    """Leave room below the file-descriptor limit for pools, logs and the broker."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(16, min(10_000, soft - 128))


@dataclass(frozen=True)
class ConnectionLimits:
    """The timeouts and the ceiling (``HTTP_*`` settings)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: float = 75.0
    max_connections: int = 0  # 0: default_max_connections()


class _Guarded(asyncio.Protocol):
    """Stands between the transport and aiohttp's protocol, and watches the clock."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self.transport: asyncio.Transport | None = None
        self.in_request = False
        self.deadline = time.monotonic() + guard.limits.header_timeout

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        self._guard.opened(self)
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.closed(self)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        headers_due = time.monotonic() + self._guard.limits.header_timeout
        if not self.in_request and self.deadline > headers_due:
            # The first bytes of a new request after a keep-alive pause: its headers
            # must now arrive within the header timeout, however slowly they trickle.
            self.deadline = headers_due
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class _Refused(asyncio.Protocol):
    """Answers 503 and closes: the process is at its connection ceiling.

    It shuts its side first and reads what the client sends meanwhile: closing with
    the request unread would make the kernel reset the connection, and the client
    would lose the answer.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        writable = cast(asyncio.Transport, transport)
        writable.write(_REFUSAL)
        if writable.can_write_eof():
            writable.write_eof()
        asyncio.get_running_loop().call_later(1.0, writable.close)

    def data_received(self, data: bytes) -> None:
        """Discard the request."""


class ConnectionGuard:
    """Tracks this process's connections; closes the idle and slow ones."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._max = limits.max_connections or default_max_connections()
        self._open: dict[asyncio.Transport, _Guarded] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """Return a protocol factory that guards what ``factory`` makes."""

        def guarded() -> asyncio.Protocol:
            if len(self._open) >= self._max:
                return _Refused()
            return _Guarded(self, factory())

        return guarded

    def opened(self, connection: _Guarded) -> None:
        """Start watching a connection."""
        assert connection.transport is not None
        self._open[connection.transport] = connection
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def closed(self, connection: _Guarded) -> None:
        """Stop watching a connection."""
        if connection.transport is not None:
            self._open.pop(connection.transport, None)

    def request_started(self, transport: Any) -> None:
        """A request's headers are in: no header deadline until it is answered."""
        connection = self._open.get(transport)
        if connection is not None:
            connection.in_request = True

    def request_finished(self, transport: Any) -> None:
        """The response is on its way: the connection may now idle ``keepalive_timeout``."""
        connection = self._open.get(transport)
        if connection is not None:
            connection.in_request = False
            connection.deadline = time.monotonic() + self.limits.keepalive_timeout

    async def close(self) -> None:
        """Stop sweeping."""
        if self._sweeper is not None:
            self._sweeper.cancel()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            now = time.monotonic()
            for transport, connection in list(self._open.items()):
                if not connection.in_request and now > connection.deadline:
                    transport.close()


class GuardedSite(web.TCPSite):
    """A TCP site whose connections go through a ``ConnectionGuard``.

    aiohttp offers no hook between the listening socket and its protocol, so this
    repeats ``TCPSite.start`` with the guarded factory in the middle.
    """

    def __init__(self, runner: web.BaseRunner, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(runner, **kwargs)
        self._guard = guard

    async def start(self) -> None:
        """Listen, handing each connection to the guard."""
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.wrap(server),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
