"""The group-commit policy on a fake statement: batching, failure, order of release."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from service.domain.errors import ReservationLost
from service.persistence.oauth_apps import NewApp
from service.usecases import group_commit
from service.usecases.group_commit import AppWriter
from tests.unit.usecases.fakes import new_app_row


class FakeStatement:
    """Records each batch; blocks until released, so that writes queue up behind it."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail_with: Exception | None = None
        self.skipped: set[str] = set()  # rows whose reservation was taken over

    async def __call__(self, rows: Sequence[NewApp]) -> set[str]:
        self.batches.append([row.oauth_app.name for row in rows])
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return {row.oauth_app.id for row in rows if row.oauth_app.name not in self.skipped}


async def test_writes_queued_behind_a_running_statement_go_out_together() -> None:
    statement = FakeStatement()
    writer = AppWriter(statement)
    writer.start()
    try:
        first = asyncio.ensure_future(writer.write(new_app_row("first")))
        await asyncio.sleep(0)  # let a writer task take the first row
        await asyncio.sleep(0)
        rest = [asyncio.ensure_future(writer.write(new_app_row(f"r{n}"))) for n in range(30)]
        statement.release.set()
        await asyncio.gather(first, *rest)
    finally:
        await writer.close()
    assert statement.batches[0] == ["first"]
    assert sorted(name for batch in statement.batches[1:] for name in batch) == sorted(
        f"r{n}" for n in range(30)
    )
    assert len(statement.batches) < 31


async def test_a_failed_statement_fails_every_write_of_its_batch() -> None:
    statement = FakeStatement()
    statement.fail_with = RuntimeError("statement failed")
    statement.release.set()
    writer = AppWriter(statement)
    writer.start()
    try:
        results = await asyncio.gather(
            *(writer.write(new_app_row(str(n))) for n in range(5)), return_exceptions=True
        )
    finally:
        await writer.close()
    assert all(isinstance(result, RuntimeError) for result in results)


async def test_batches_never_exceed_the_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group_commit, "MAX_BATCH", 7)
    statement = FakeStatement()
    statement.release.set()
    writer = AppWriter(statement)
    writer.start()
    try:
        await asyncio.gather(*(writer.write(new_app_row(str(n))) for n in range(50)))
    finally:
        await writer.close()
    assert max(len(batch) for batch in statement.batches) <= 7
    assert sum(len(batch) for batch in statement.batches) == 50


async def test_writes_wait_for_back_pressure_before_each_statement() -> None:
    statement = FakeStatement()
    statement.release.set()
    held = asyncio.Event()

    async def hold() -> None:
        await held.wait()

    writer = AppWriter(statement, before_write=hold)
    writer.start()
    try:
        pending = asyncio.ensure_future(writer.write(new_app_row("held")))
        await asyncio.sleep(0.05)
        assert statement.batches == [] and not pending.done()
        held.set()
        await asyncio.wait_for(pending, 5)
    finally:
        await writer.close()
    assert statement.batches == [["held"]]


async def test_a_row_the_statement_skipped_fails_alone_with_reservation_lost() -> None:
    statement = FakeStatement()
    statement.release.set()
    statement.skipped = {"usurped"}
    writer = AppWriter(statement)
    writer.start()
    try:
        results = await asyncio.gather(
            writer.write(new_app_row("kept")),
            writer.write(new_app_row("usurped")),
            return_exceptions=True,
        )
    finally:
        await writer.close()
    assert results[0] is None
    assert isinstance(results[1], ReservationLost)
