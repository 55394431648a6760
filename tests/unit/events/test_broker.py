"""Retrying a broker session: one warning per streak of the same failure, naming AMQP_URL."""

from __future__ import annotations

import asyncio
import logging

import aiormq
import pytest

from service.domain.backoff import Backoff
from service.events.broker import describe, keep_running


async def test_a_repeated_failure_is_logged_once_per_streak(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    backoff = Backoff(initial=0.001, cap=0.001)
    errors = [ConnectionRefusedError("refused")] * 5 + [TimeoutError("slow")] * 3
    attempts = 0

    async def session() -> None:
        nonlocal attempts
        attempts += 1
        if attempts > len(errors):
            stop.set()
            return
        raise errors[attempts - 1]

    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(keep_running("relay", session, stop, backoff=backoff), 5)
    warnings = [r for r in caplog.records if r.getMessage() == "relay interrupted, retrying"]
    assert attempts == len(errors) + 1
    assert len(warnings) == 2  # one for the refusals, one when the failure changed


def test_refused_credentials_name_the_variable() -> None:
    error = aiormq.exceptions.ProbableAuthenticationError("ACCESS_REFUSED - Login was refused")
    assert "AMQP_URL" in describe(error)
    assert "AMQP_URL" not in describe(ValueError("something else"))
