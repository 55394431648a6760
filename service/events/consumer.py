"""Running a consumer: one queue, manual acks, one message at a time so each app's order holds."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from service.domain.backoff import Backoff
from service.events.broker import Broker, describe, keep_running
from service.events.received import EventHandler, GiveUp, PoisonMessage, parse_event
from service.events.topology import QueueSpec, Topology, declare
from service.metrics import CONSUMER_MESSAGES
from service.persistence.database import is_transient_database_error
from service.waiting import wait_any

log = logging.getLogger(__name__)

PREFETCH = 50


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
            await channel.set_qos(prefetch_count=PREFETCH)
            await declare(channel, self._topology)
            queue = await channel.get_queue(self._queue.name)
            log.info("consuming", extra={"fields": {"queue": self._queue.name}})
            self._backoff.reset()
            async with queue.iterator() as messages:
                while not stop.is_set():
                    receiving = asyncio.ensure_future(anext(messages))
                    await wait_any(stop, closed, _future_done(receiving), timeout=3600)
                    if not receiving.done():
                        receiving.cancel()
                        if closed.is_set():
                            raise ConnectionError("broker connection closed")
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
            await message.reject(requeue=False)
            self._count("dead_lettered")
            return
        retry = Backoff(initial=0.2, cap=5.0)
        held = False
        while True:
            try:
                await self._handler.handle(event)
            except GiveUp as error:
                log.error("dead-lettering event", extra={"fields": fields | {"error": str(error)}})
                await message.reject(requeue=False)
                self._count("dead_lettered")
                return
            except Exception as error:
                if is_transient_database_error(error) and not stop.is_set():
                    # Hold the message in hand until the database answers: a redelivery
                    # would count towards the delivery limit and could dead-letter a good
                    # event, and a requeue would put it behind the app's later events.
                    if not held:
                        held = True
                        log.warning(
                            "database busy or unavailable, retrying the event in place",
                            extra={"fields": fields | {"error": describe(error)}},
                        )
                    self._count("retried_in_place")
                    await wait_any(stop, timeout=retry.next_delay())
                    continue
                log.exception("event failed, requeueing", extra={"fields": fields})
                await wait_any(stop, timeout=retry.next_delay())
                await message.nack(requeue=True)
                self._count("redelivered")
                return
            await message.ack()
            self._count("acked")
            # One line per event, so that an operator sees events flow.
            log.info(
                "event processed",
                extra={"fields": fields | {"type": event.type, "subject": event.subject}},
            )
            return

    def _count(self, outcome: str) -> None:
        CONSUMER_MESSAGES.labels(self._handler.name, outcome).inc()


def _future_done(future: asyncio.Future[Any]) -> asyncio.Event:
    done = asyncio.Event()
    future.add_done_callback(lambda _: done.set())
    return done
