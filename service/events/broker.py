"""How a process reaches RabbitMQ: one place that knows ``AMQP_URL``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aio_pika
import aiormq
from aio_pika.abc import AbstractConnection
from yarl import URL

from service.config import ConfigError, DependencyUnavailable
from service.domain.backoff import Backoff
from service.waiting import wait_any

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0


class Broker:
    """Opens connections to the broker named by ``AMQP_URL``: one URL, or one per node.

    aio-pika re-dials a single URL; with several, each connection tries the nodes in
    turn, starting with the one after the last that worked, so that a reconnect moves
    on from a node that died.
    """

    def __init__(self, url: str, timeout: float = CONNECT_TIMEOUT) -> None:
        self.urls = [one.strip() for one in url.split(",") if one.strip()]
        self._timeout = timeout
        self._next = 0

    async def connect(self) -> AbstractConnection:
        """Open a new connection to the first node that answers; the caller closes it.

        When none does, raise what the last one said, in words (``connect_error``).
        """
        failure: ConfigError | DependencyUnavailable | None = None
        for attempt in range(len(self.urls)):
            index = (self._next + attempt) % len(self.urls)
            try:
                connection = await aio_pika.connect(self.urls[index], timeout=self._timeout)
            except Exception as error:  # this node is down: try the next one
                failure = connect_error(self.urls[index], error, self._timeout)
                failure.__cause__ = error
                continue
            self._next = (index + 1) % len(self.urls)
            return connection
        assert failure is not None
        raise failure


def connect_error(
    url: str, error: BaseException, timeout: float
) -> ConfigError | DependencyUnavailable:
    """Why a connection to ``url`` failed, in one line naming ``AMQP_URL``, never its password.

    A refused login or virtual host is the operator's to fix (``ConfigError``); a node
    that does not answer may come back (``DependencyUnavailable``).
    """
    target = URL(url)
    port = target.port or (5671 if target.scheme == "amqps" else 5672)
    where, user = f"RabbitMQ at {target.host}:{port}", target.user or "guest"
    if isinstance(error, aiormq.exceptions.ProbableAuthenticationError):
        return ConfigError(
            "AMQP_URL", f"{where} refused the login of user {user!r}: check the user and password"
        )
    if isinstance(error, aiormq.exceptions.InvalidFrameError) and "Connection.Close" in str(error):
        # RabbitMQ answers the opening of a virtual host that is missing, or closed to
        # the user, with Connection.Close; aiormq keeps only the frame's repr, not why.
        vhost = target.path[1:] or "/"
        return ConfigError(
            "AMQP_URL",
            f"the virtual host {vhost!r} does not exist on {where},"
            f" or user {user!r} may not use it",
        )
    if isinstance(error, TimeoutError):
        return DependencyUnavailable(
            "AMQP_URL", f"cannot reach {where}: no answer within {timeout:g} s"
        )
    cause = error if isinstance(error, OSError) else error.__cause__
    reason = (cause.strerror if isinstance(cause, OSError) else None) or _first_line(error)
    return DependencyUnavailable("AMQP_URL", f"cannot reach {where}: {reason}")


def is_blocked(connection: AbstractConnection) -> bool:
    """Whether RabbitMQ has blocked this connection's publishes (a memory or disk alarm).

    aiormq tracks ``connection.blocked``/``unblocked`` in a private event and holds
    every frame while blocked; neither it nor aio-pika exposes the state otherwise.
    """
    underlay = getattr(connection, "transport", None)
    amqp = getattr(underlay, "connection", None)
    unblocked = getattr(amqp, "_Connection__connection_unblocked", None)
    return isinstance(unblocked, asyncio.Event) and not unblocked.is_set()


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".strip().splitlines()[0][:300]


def describe(error: BaseException) -> str:
    """One line about ``error``, naming the variable to check where the broker refused us."""
    if isinstance(error, ConfigError | DependencyUnavailable):
        return str(error)  # already names the variable, in words
    text = _first_line(error)
    if "ACCESS_REFUSED" in text:  # connected, but not allowed an exchange or a queue
        return f"{text} (check the user's permissions on the vhost in AMQP_URL)"
    return text


async def keep_running(
    name: str,
    session: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    *,
    backoff: Backoff,
    min_delay: float = 0.0,
) -> None:
    """Run ``session`` until ``stop``; after a failure, wait and run it again.

    A failure is logged when it starts a streak (``session`` resets ``backoff`` once
    it is connected) or differs from the one before, with the delay: wrong credentials
    make one warning, not one per attempt.
    """
    last = ""
    while not stop.is_set():
        try:
            await session()
        except Exception as error:  # broker or database gone: retry from scratch
            problem = describe(error)
            fresh = not backoff.failing
            delay = max(backoff.next_delay(), min_delay)
            if fresh or problem != last:
                log.warning(
                    f"{name} interrupted, retrying",
                    extra={"fields": {"error": problem, "retry_in": round(delay, 2)}},
                )
            last = problem
            await wait_any(stop, timeout=delay)
