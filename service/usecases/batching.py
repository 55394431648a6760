"""Concurrent calls share one statement: group commit for writes, one read for lookups.

A call waits for its own answer exactly as alone; what changes is that the calls queued
while a statement runs go out together in the next one. At low load a batch holds one
call and nothing waits; under load PostgreSQL parses, plans and commits once per batch
instead of once per call, and this process pays SQLAlchemy's and the driver's
per-statement cost once too. If a statement fails, every call of its batch fails (a
batch is one statement: none of it is half-written).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Runs one batch; returns one answer per item, in the items' order.
RunBatch = Callable[[Sequence[T]], Awaitable[Sequence[R]]]


class Batcher(Generic[T, R]):
    """Queues items and runs them in batches between ``start`` and ``close``."""

    def __init__(
        self,
        run_batch: RunBatch[T, R],
        *,
        name: str,
        max_batch: int = 100,
        runners: int = 4,
        before_run: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``runners`` statements may be in flight at once; each first awaits ``before_run``."""
        self._run_batch = run_batch
        self._name = name
        self._max_batch = max_batch
        self._runners = runners
        self._before_run = before_run
        self._queue: deque[tuple[T, asyncio.Future[R]]] = deque()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the tasks that run batches."""
        self._tasks = [
            asyncio.create_task(self._run_batches(), name=f"{self._name}-{n}")
            for n in range(self._runners)
        ]

    async def submit(self, item: T) -> R:
        """Return ``item``'s answer once its batch ran; raise what the batch raised."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._ready.set()
        return await future

    async def close(self) -> None:
        """Stop the runners; called after the last request finished, so nothing waits."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run_batches(self) -> None:
        while True:
            await self._ready.wait()
            if self._before_run is not None:
                await self._before_run()
            batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
            if not self._queue:
                self._ready.clear()
            if not batch:
                continue
            try:
                answers = await self._run_batch([item for item, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():  # its request may have been cancelled
                        future.set_result(answer)
