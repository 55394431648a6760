"""Running a consumer: one queue, manual acks, events retried in place so each app's order holds."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from service.domain.backoff import Backoff
from service.events.broker import Broker, describe, keep_running
from service.events.received import (
    AttemptFailed,
    EventHandler,
    GiveUp,
    PoisonMessage,
    ReceivedEvent,
    parse_event,
)
from service.events.topology import QueueSpec, Topology, declare
from service.metrics import CONSUMER_MESSAGES
from service.persistence.database import is_transient_database_error
from service.waiting import wait_any

log = logging.getLogger(__name__)

# Every message a consumer holds unacked when it dies comes back with its delivery
# count raised by one; a small prefetch keeps a restart from touching more than a few.
PREFETCH = 10


class Consumer:
    """Consumes one queue with one handler until stopped, reconnecting after failures."""

    def __init__(
        self, *, broker: Broker, topology: Topology, queue: QueueSpec, handler: EventHandler
    ) -> None:
        self._broker = broker
        self._topology = topology
        self._queue = queue
        self._handler = handler
        self._backoff = Backoff(initial=0.1, cap=2.0)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the message in hand is finished first."""
        await keep_running(
            f"{self._handler.name} consumer",
            lambda: self._consume(stop),
            stop,
            backoff=self._backoff,
        )

    async def _consume(self, stop: asyncio.Event) -> None:
        broker = await self._broker.connect()
        closed = asyncio.Event()
        broker.close_callbacks.add(lambda *_: closed.set())
        async with broker:
            channel = await broker.channel()
            channel.close_callbacks.add(lambda *_: closed.set())
            # After the declaration: a queue of an older version reopens the channel.
            await declare(channel, self._topology)
            await channel.set_qos(prefetch_count=PREFETCH)
            queue = await channel.get_queue(self._queue.name)
            # A callback, not aio-pika's queue iterator: closing the iterator nacks what
            # it has buffered, which sends those messages to the back of a quorum queue,
            # while a closing channel returns them to its head in their order.
            inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            await queue.consume(inbox.put)
            log.info("consuming", extra={"fields": {"queue": self._queue.name}})
            self._backoff.reset()
            while not stop.is_set():
                receiving = asyncio.ensure_future(inbox.get())
                await wait_any(stop, closed, _future_done(receiving), timeout=3600)
                if not receiving.done():
                    receiving.cancel()
                    if closed.is_set():
                        raise ConnectionError("broker connection or channel closed")
                    continue
                await self._process(receiving.result(), stop)

    async def _process(self, message: AbstractIncomingMessage, stop: asyncio.Event) -> None:
        fields = {"consumer": self._handler.name, "message_id": message.message_id}
        try:
            event = parse_event(message.body)
        except PoisonMessage as error:
            log.error(
                "dead-lettering unparseable message",
                extra={"fields": fields | {"error": str(error)}},
            )
            await self._dead_letter(message)
            return
        handled = await self._attempt(event, fields, stop)
        if handled:
            await message.ack()
            self._count("acked")
            # One line per event, so that an operator sees events flow.
            log.info(
                "event processed",
                extra={"fields": fields | {"type": event.type, "subject": event.subject}},
            )
        elif handled is not None:
            await self._dead_letter(message)
        # Stopped between attempts: left unacked, the message goes back to the head of
        # the queue when the channel closes, ahead of the app's later events.

    async def _attempt(
        self, event: ReceivedEvent, fields: dict[str, Any], stop: asyncio.Event
    ) -> bool | None:
        """Handle ``event`` in place: True once done, False to dead-letter it, None if stopped.

        Attempts are counted here, not by redeliveries: a requeue would put the event
        behind the app's later ones, and the broker counts a consumer's restart as a
        delivery. A database that is busy or away costs no attempt at all.
        """
        failures = 0
        database_retry = Backoff(initial=0.2, cap=5.0)
        attempt_retry = Backoff(initial=0.5, cap=30.0)
        held = False
        while not stop.is_set():
            try:
                await self._handler.handle(event)
                return True
            except GiveUp as error:
                log.error("dead-lettering event", extra={"fields": fields | {"error": str(error)}})
                return False
            except Exception as error:
                if is_transient_database_error(error):
                    if not held:
                        held = True
                        log.warning(
                            "database busy or unavailable, retrying the event in place",
                            extra={"fields": fields | {"error": describe(error)}},
                        )
                    self._count("retried_in_place")
                    await wait_any(stop, timeout=database_retry.next_delay())
                    continue
                failures += 1
                problem = str(error) if isinstance(error, AttemptFailed) else describe(error)
                attempt_log = {
                    "fields": fields
                    | {"attempt": failures, "max_attempts": self._handler.max_attempts}
                    | {"error": problem}
                }
                if failures >= self._handler.max_attempts:
                    log.error("event failed its last attempt, dead-lettering", extra=attempt_log)
                    return False
                log.warning(
                    "event attempt failed, retrying in place",
                    extra=attempt_log,
                    exc_info=not isinstance(error, AttemptFailed),
                )
                self._count("failed_attempt")
                await wait_any(stop, timeout=attempt_retry.next_delay())
        return None

    async def _dead_letter(self, message: AbstractIncomingMessage) -> None:
        await message.reject(requeue=False)
        self._count("dead_lettered")

    def _count(self, outcome: str) -> None:
        CONSUMER_MESSAGES.labels(self._handler.name, outcome).inc()


def _future_done(future: asyncio.Future[Any]) -> asyncio.Event:
    done = asyncio.Event()
    future.add_done_callback(lambda _: done.set())
    return done
