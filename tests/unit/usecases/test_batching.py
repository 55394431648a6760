"""The batching queue on its own: each caller gets its own item's answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from service.usecases.batching import Batcher


async def test_each_caller_gets_the_answer_of_its_own_item_in_shared_batches() -> None:
    batches: list[list[int]] = []

    async def square(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        await asyncio.sleep(0)  # let more callers queue behind this batch
        return [item * item for item in items]

    batcher = Batcher(square, name="squares", max_batch=8, runners=2)
    batcher.start()
    try:
        answers = await asyncio.gather(*(batcher.submit(n) for n in range(40)))
    finally:
        await batcher.close()
    assert answers == [n * n for n in range(40)]
    assert len(batches) < 40 and max(len(batch) for batch in batches) <= 8
    assert sorted(item for batch in batches for item in batch) == list(range(40))


async def test_a_cancelled_caller_does_not_disturb_its_batch() -> None:
    release = asyncio.Event()

    async def held(items: Sequence[str]) -> list[str]:
        await release.wait()
        return [item.upper() for item in items]

    batcher = Batcher(held, name="held", runners=1)
    batcher.start()
    try:
        first = asyncio.ensure_future(batcher.submit("first"))
        await asyncio.sleep(0)
        gone, kept = (asyncio.ensure_future(batcher.submit(s)) for s in ("gone", "kept"))
        await asyncio.sleep(0)
        gone.cancel()
        release.set()
        assert await asyncio.wait_for(asyncio.gather(first, kept), 5) == ["FIRST", "KEPT"]
    finally:
        await batcher.close()
    assert gone.cancelled()
