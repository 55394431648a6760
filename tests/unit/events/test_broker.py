"""Retrying a broker session: one warning per streak of the same failure, naming AMQP_URL."""

from __future__ import annotations

import asyncio
import logging

import aiormq
import pytest

from service.config import ConfigError, DependencyUnavailable
from service.domain.backoff import Backoff
from service.events.broker import connect_error, describe, keep_running


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


def test_a_refused_permission_names_the_variable() -> None:
    error = aiormq.exceptions.ChannelAccessRefused("ACCESS_REFUSED - access to exchange 'x'")
    assert "AMQP_URL" in describe(error)
    assert "AMQP_URL" not in describe(ValueError("something else"))


def _refused_connection() -> BaseException:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as error:
            raise aiormq.exceptions.AMQPConnectionError(*error.args) from error
    except aiormq.exceptions.AMQPConnectionError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (
            aiormq.exceptions.ProbableAuthenticationError("ACCESS_REFUSED - Login was refused"),
            ConfigError,
            "RabbitMQ at rabbit:5672 refused the login of user 'app'",
        ),
        (
            aiormq.exceptions.InvalidFrameError(
                "Expected one of ['Connection.OpenOk'], got <Connection.Close object at 0x7f>"
            ),
            ConfigError,
            "the virtual host 'chat' does not exist on RabbitMQ at rabbit:5672",
        ),
        (_refused_connection(), DependencyUnavailable, "cannot reach RabbitMQ at rabbit:5672"),
        (TimeoutError(), DependencyUnavailable, "no answer within 10 s"),
    ],
)
def test_a_failed_connection_says_what_is_wrong_in_words(
    error: BaseException, kind: type[Exception], words: str
) -> None:
    failure = connect_error("amqp://app:s3cret@rabbit/chat", error, timeout=10)
    assert isinstance(failure, kind)
    assert str(failure).startswith("AMQP_URL: ") and words in str(failure)
    assert "s3cret" not in str(failure) and describe(failure) == str(failure)
