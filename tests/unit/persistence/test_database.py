"""Which database errors count as transient: they are retried, never blamed on the request."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.persistence.database import TRANSIENT_SQLSTATES, is_transient_database_error


def postgres_error(sqlstate: str) -> asyncpg.PostgresError:
    error_class = asyncpg.PostgresError.get_message_class_for_sqlstate(sqlstate)  # type: ignore[attr-defined]
    return error_class("from the server")  # type: ignore[no-any-return]


def wrapped(error: BaseException) -> DBAPIError:
    """The error as SQLAlchemy raises it from the asyncpg dialect."""

    class AdaptedError(Exception):
        sqlstate = getattr(error, "sqlstate", None)

    adapted = AdaptedError(str(error))
    adapted.__cause__ = error
    return DBAPIError("SELECT 1", None, adapted)


@pytest.mark.parametrize("sqlstate", [*sorted(TRANSIENT_SQLSTATES), "08006", "08001"])
def test_busy_refusing_or_read_only_servers_are_transient(sqlstate: str) -> None:
    assert is_transient_database_error(postgres_error(sqlstate))
    assert is_transient_database_error(wrapped(postgres_error(sqlstate)))


@pytest.mark.parametrize("sqlstate", ["23505", "42601", "22P02", "23503"])
def test_errors_of_the_statement_itself_are_not(sqlstate: str) -> None:
    assert not is_transient_database_error(postgres_error(sqlstate))
    assert not is_transient_database_error(wrapped(postgres_error(sqlstate)))


def test_a_refused_connection_is_transient() -> None:
    assert is_transient_database_error(ConnectionRefusedError())
    assert not is_transient_database_error(ValueError("bad input"))


def test_a_pool_that_stays_busy_is_transient() -> None:
    exhausted = PoolTimeout("QueuePool limit of size 1 overflow 0 reached, timed out")
    assert is_transient_database_error(exhausted)
