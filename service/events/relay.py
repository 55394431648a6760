"""The outbox relay: publish committed events to RabbitMQ with confirms, then mark them.

One relay is active at a time (a PostgreSQL advisory lock), so each app's events
leave in the order they were committed; other relays stand by and take over when
the active one's database session ends. The relay wakes on ``NOTIFY outbox`` at
commit and polls as a fallback, since notifications are not replayed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import aio_pika
import aiormq
import uvloop
from aio_pika.abc import AbstractConnection
from sqlalchemy.ext.asyncio import AsyncConnection

from service.domain.backoff import Backoff
from service.events.broker import Broker, describe, is_blocked, keep_running
from service.events.topology import Topology, declare
from service.metrics import EVENTS_PUBLISH_FAILED, EVENTS_PUBLISHED, RELAY_BROKER_BLOCKED
from service.persistence import outbox
from service.persistence.database import Database
from service.persistence.housekeeping import Purge
from service.persistence.outbox import PendingEvent
from service.waiting import wait_any

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json"
BLOCKED_CHECK_INTERVAL = 0.5


class PublishFailed(Exception):
    """The broker did not confirm every event of a batch; the rest stay in the outbox."""


@dataclass(frozen=True)
class RelayConfig:
    """Tuning of the relay; the defaults suit one API process."""

    batch_size: int = 500
    poll_interval: float = 1.0
    standby_interval: float = 2.0
    retention: timedelta = timedelta(days=7)
    # A relay that cannot publish (or is frozen) for this long gives up the lead.
    leadership_timeout: float = 10.0
    purge_interval: float = 300.0
    purge_batch: int = 200
    # Between two purge steps while old rows remain: 2,000 rows/s at most, and less
    # when steps are slow (see _purge_when_due).
    purge_pause: float = 0.1


def plan_waves(events: Sequence[PendingEvent]) -> list[list[PendingEvent]]:
    """Split a batch so that each wave holds at most one event per app, in order.

    Events of a wave are published concurrently; waves one after another. An
    app's second event is therefore sent only after its first was confirmed.
    """
    waves: list[list[PendingEvent]] = []
    seen: dict[str, int] = {}
    for event in events:
        index = seen.get(event.aggregate_id, 0)
        seen[event.aggregate_id] = index + 1
        if index == len(waves):
            waves.append([])
        waves[index].append(event)
    return waves


def message_properties(event: PendingEvent) -> aiormq.spec.Basic.Properties:
    """Return the AMQP properties of ``event``: persistent, the event id as message id."""
    return aiormq.spec.Basic.Properties(
        content_type=CONTENT_TYPE,
        content_encoding="utf-8",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(event.event_id),
        message_type=event.event_type,
        timestamp=event.created_at,
        app_id="oauth-apps",
    )


def make_room_for_a_wave(batch_size: int) -> None:
    """Let aiormq queue a whole wave of publishes for its connection's writer.

    aiormq queues at most ``FRAME_BUFFER_SIZE`` (10) messages for the writer, and a
    publisher that finds the queue full waits while holding the channel's lock, so
    past the tenth a wave went out one message per loop turn (docs/performance.md has
    the figures). aio-pika takes no connection class, hence a class attribute: a
    process-wide setting, applied by the entry point of a process that relays.
    """
    aiormq.Connection.FRAME_BUFFER_SIZE = max(aiormq.Connection.FRAME_BUFFER_SIZE, batch_size)


class Relay:
    """Moves events from the outbox to the exchange until stopped."""

    def __init__(
        self,
        database: Database,
        broker: Broker,
        topology: Topology,
        *,
        purges: Sequence[tuple[str, Purge]],
        config: RelayConfig | None = None,
    ) -> None:
        self._database = database
        self._broker = broker
        self._topology = topology
        self._config = config or RelayConfig()
        self._backoff = Backoff(initial=0.1, cap=2.0)
        self._next_purge = 0.0
        self._purged: dict[str, int] = {}
        # The scheduled purges, each context's (``bootstrap.housekeeping``).
        self._purges = list(purges)
        self._purge_round: list[tuple[str, Purge]] = []

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; every failure is retried after a backoff."""
        await keep_running(
            "relay",
            lambda: self._run_session(stop),
            stop,
            backoff=self._backoff,
            # A relay that just gave up the lead waits longer than a standby's poll,
            # so that a healthy standby takes over rather than this one again.
            min_delay=self._config.standby_interval * 1.5,
        )

    async def _run_session(self, stop: asyncio.Event) -> None:
        # The broker first: a relay that cannot reach it never takes the lead.
        broker = await self._broker.connect()
        wake = asyncio.Event()
        broker.close_callbacks.add(lambda *_: wake.set())
        async with broker:
            channel = await broker.channel(publisher_confirms=True, on_return_raises=True)
            await declare(channel, self._topology)
            # Publishing through aiormq's channel skips aio-pika's Message and
            # wrapper, a fifth of the relay's CPU per event (see performance.md).
            publisher = await channel.get_underlay_channel()
            assert isinstance(publisher, aiormq.Channel)
            async with self._database.engine.connect() as connection:
                try:
                    await self._lead(connection, broker, publisher, wake, stop)
                except BaseException:
                    # The lock lives as long as this session: closing it (rather than
                    # handing it back to the pool) is what lets a standby take over.
                    await connection.invalidate()
                    raise

    async def _lead(
        self,
        connection: AsyncConnection,
        broker: AbstractConnection,
        publisher: aiormq.Channel,
        wake: asyncio.Event,
        stop: asyncio.Event,
    ) -> None:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        standing_by = False
        while not await outbox.try_lock_relay(connection):
            if not standing_by:
                standing_by = True
                log.info(
                    "relay standing by", extra={"fields": {"exchange": self._topology.exchange}}
                )
            if broker.is_closed:
                raise ConnectionError("broker connection closed")
            if await outbox.end_frozen_relay(connection, self._config.leadership_timeout):
                log.warning("ended the session of a frozen relay to take over")
                continue
            if await wait_any(stop, timeout=self._config.standby_interval):
                return
        # A frozen relay keeps its session open but idle: the server ends such a
        # session, and with it the lock, after the leadership timeout.
        await outbox.end_session_when_idle(connection, self._config.leadership_timeout)
        raw = await connection.get_raw_connection()
        assert raw.driver_connection is not None
        await raw.driver_connection.add_listener("outbox", lambda *_: wake.set())
        log.info("relay active", extra={"fields": {"exchange": self._topology.exchange}})
        self._backoff.reset()
        while not stop.is_set():
            if broker.is_closed:
                raise ConnectionError("broker connection closed")
            if is_blocked(broker):
                await self._wait_until_unblocked(connection, broker, stop)
                continue
            wake.clear()
            published = await self._publish_batch(connection, publisher, broker)
            await self._purge_when_due(connection)
            if published < self._config.batch_size:
                until_purge = max(0.0, self._next_purge - time.monotonic())
                await wait_any(wake, stop, timeout=min(self._config.poll_interval, until_purge))

    async def _wait_until_unblocked(
        self, connection: AsyncConnection, broker: AbstractConnection, stop: asyncio.Event
    ) -> None:
        """Wait on this connection while RabbitMQ blocks it, keeping the lead.

        Another connection would be blocked as well (an alarm holds every publisher),
        and abandoning this one would leave the broker holding its buffered frames.
        The lock's session keeps answering, so no standby takes it for frozen.
        """
        RELAY_BROKER_BLOCKED.set(1)
        log.warning("broker blocked publishing (memory or disk alarm); waiting")
        try:
            while is_blocked(broker) and not broker.is_closed and not stop.is_set():
                await outbox.keep_session_alive(connection)
                await wait_any(stop, timeout=BLOCKED_CHECK_INTERVAL)
        finally:
            RELAY_BROKER_BLOCKED.set(0)
        log.info("broker unblocked publishing")

    async def _publish_batch(
        self, connection: AsyncConnection, publisher: aiormq.Channel, broker: AbstractConnection
    ) -> int:
        events = await outbox.pending_events(connection, self._config.batch_size)
        for wave in plan_waves(events):
            results = await asyncio.gather(
                *(
                    # wait=False: the frames are queued for the connection's writer
                    # without awaiting a drain per message; the confirm is still awaited.
                    publisher.basic_publish(
                        event.body.encode(),
                        exchange=self._topology.exchange,
                        routing_key=event.event_type,
                        properties=message_properties(event),
                        mandatory=True,
                        # Half the leadership timeout: the lock's session, idle while
                        # the wave waits, must not look frozen to a standby.
                        timeout=self._config.leadership_timeout / 2,
                        wait=False,
                    )
                    for event in wave
                ),
                return_exceptions=True,
            )
            confirmed = [
                event
                for event, result in zip(wave, results, strict=True)
                if not isinstance(result, BaseException)
            ]
            await outbox.mark_published(connection, [event.seq for event in confirmed])
            # One update per event type and wave: each is a write to shared memory
            # when the workers share their metrics.
            for event_type, count in Counter(event.event_type for event in confirmed).items():
                EVENTS_PUBLISHED.labels(event_type).inc(count)
            failures = [result for result in results if isinstance(result, BaseException)]
            if failures and is_blocked(broker):
                break  # unconfirmed events stay in the outbox; the loop waits for unblock
            if failures:
                EVENTS_PUBLISH_FAILED.inc(len(failures))
                raise PublishFailed(
                    f"{len(failures)} of {len(wave)} events not confirmed: {describe(failures[0])}"
                )
        if events:
            log.debug("published", extra={"fields": {"count": len(events)}})
        return len(events)

    async def _purge_when_due(self, connection: AsyncConnection) -> None:
        """Run one step of the scheduled purges when one is due.

        The one periodic job of the service rides along with the relay. A step deletes
        at most ``purge_batch`` rows of one table, between two batches of events, and
        the next waits at least nine times as long as the step took, so purging takes
        a tenth of the relay's connection at most: a backlog of a million old rows is
        worked off in minutes while creates keep their latency (the data-scale
        benchmark measures it) and events their lag.
        """
        if time.monotonic() < self._next_purge or not self._purges:
            return
        if not self._purge_round:
            self._purge_round = list(self._purges)
        name, purge = self._purge_round[0]
        started = time.monotonic()
        deleted = await purge(connection, self._config.purge_batch)
        took = time.monotonic() - started
        self._purged[name] = self._purged.get(name, 0) + deleted
        if deleted < self._config.purge_batch:
            self._purge_round.pop(0)  # this table is done until the next round
        if self._purge_round:
            self._next_purge = time.monotonic() + max(self._config.purge_pause, 9 * took)
            return
        self._next_purge = time.monotonic() + self._config.purge_interval
        if any(self._purged.values()):
            log.info("housekeeping", extra={"fields": self._purged})
        self._purged = {}


class RelayThread:
    """A relay on its own thread and event loop, for running inside a one-process ``serve``.

    On the API's event loop the relay only gets a turn between request handlers, so
    under load the outbox grew faster than it drained. ``run`` builds the relay's own
    resources on the thread's loop (pooled connections belong to one loop).
    """

    def __init__(self, run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        self._run = run
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="outbox-relay", daemon=True)

    def start(self) -> None:
        """Start relaying."""
        self._thread.start()
        self._started.wait()

    async def stop(self, grace: float) -> bool:
        """Let the relay finish its batch and stop; return whether it did within ``grace``."""
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        await asyncio.to_thread(self._thread.join, grace)
        return not self._thread.is_alive()

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._started.set()
            await self._run(self._stop)

        uvloop.run(run())
