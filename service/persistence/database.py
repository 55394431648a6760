"""Engine, sessions and database-level administration."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from service.config import ConfigError, DependencyUnavailable

# Errors that mean "the database is unreachable right now", not "the query is wrong".
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    OperationalError,
    InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    PoolTimeout,  # every pooled connection stayed busy for pool_timeout: a load to shed
)


# SQLSTATEs after which the same statement may well succeed in a moment: the server
# sheds load, times a wait out, or is read-only (a standby, after a failover).
TRANSIENT_SQLSTATES = frozenset(
    {
        "53300",  # too_many_connections
        "53400",  # configuration_limit_exceeded
        "55P03",  # lock_not_available (lock_timeout)
        "57014",  # query_canceled (statement_timeout)
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now
        "25006",  # read_only_sql_transaction
    }
)


def _sqlstate(error: BaseException) -> str | None:
    for candidate in (error, getattr(error, "orig", None), error.__cause__):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def is_transient_database_error(error: BaseException) -> bool:
    """Tell whether ``error`` will likely pass by itself: a lost, refused or busy database.

    Such an error is never the request's or the message's fault: the API answers 503
    with ``Retry-After``, and a consumer retries the same message in place.
    """
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, DBAPIError) and isinstance(error.orig, UNAVAILABLE_ERRORS):
        return True
    state = _sqlstate(error)
    if state is not None and (state in TRANSIENT_SQLSTATES or state.startswith("08")):
        return True
    return isinstance(error, UNAVAILABLE_ERRORS)


def dump_json(value: object) -> str:
    """Serialise ``value`` as the engine does for JSON columns."""
    return orjson.dumps(value).decode()


async def delete_batch(
    connection: AsyncConnection, table: str, rows: str, limit: int, **params: object
) -> int:
    """Delete at most ``limit`` rows of ``table`` among those ``rows`` selects; return how many.

    ``rows`` is a SELECT of ``ctid``s (with a ``LIMIT :limit``). Purges go in such
    small steps so that no one statement holds locks or floods the WAL long enough
    to slow the writes running beside it.
    """
    result = await connection.execute(
        text(f"DELETE FROM {table} WHERE ctid = ANY(ARRAY({rows}))"),  # noqa: S608 - constants
        {"limit": limit, **params},
    )
    return result.rowcount or 0


def create_engine(url: URL, pool_size: int = 20) -> AsyncEngine:
    """Create the engine: short connect and command timeouts so outages fail fast."""
    return create_async_engine(
        url,
        # With several hosts a failover is expected: each pooled connection is checked
        # before use, so that creates succeed again as soon as the standby is promoted.
        pool_pre_ping=len(hosts_of(url)) > 1,
        pool_size=pool_size,
        # No overflow: overflow connections are closed on return, so a load just above
        # the pool size kept opening connections (and re-preparing statements on them).
        max_overflow=0,
        pool_timeout=5,
        json_serializer=dump_json,
        # A failing statement's exception would otherwise carry its parameters (secret
        # hashes among them) into every log line that reports it.
        hide_parameters=True,
        json_deserializer=orjson.loads,
        connect_args={"timeout": 5, "command_timeout": 15},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """One session per unit of work; objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass(frozen=True)
class Database:
    """One pool, reached as sessions for units of work, or in autocommit for hot paths.

    A single statement in autocommit is atomic and costs one round trip, where a
    session's transaction adds BEGIN and COMMIT (two more): the request path of
    create and of authentication uses ``autocommit``.
    """

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    autocommit: AsyncEngine

    @classmethod
    def connect(cls, url: URL, pool_size: int = 20) -> Database:
        """Create the pool (connections open lazily)."""
        engine = create_engine(url, pool_size)
        return cls(
            engine,
            create_sessionmaker(engine),
            engine.execution_options(isolation_level="AUTOCOMMIT"),
        )

    async def dispose(self) -> None:
        """Close every connection."""
        await self.engine.dispose()


def hosts_of(url: URL) -> list[str]:
    """The ``host[:port]`` of each server the URL names (several: a primary and standbys)."""
    named = url.query.get("host")
    if named is None:
        return [f"{url.host or 'localhost'}:{url.port or 5432}"]
    return [named] if isinstance(named, str) else list(named)


def asyncpg_dsn(url: URL) -> str:
    """Return ``url`` as a plain DSN for asyncpg connections made outside the pool.

    Several hosts become libpq's ``h1:p1,h2:p2`` form, which asyncpg reads, with
    ``target_session_attrs`` kept: SQLAlchemy's repeated ``?host=`` form has no DSN.
    """
    plain = url.set(drivername="postgresql")
    if "host" not in url.query:
        return plain.render_as_string(hide_password=False)
    single = plain.difference_update_query(["host"]).set(host="placeholder", port=None)
    rendered = single.render_as_string(hide_password=False)
    return rendered.replace("@placeholder", "@" + ",".join(hosts_of(url)), 1)


async def check_connection(engine: AsyncEngine) -> None:
    """Fail with ``DependencyUnavailable`` naming DATABASE_URL when the database is unreachable."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # whatever it is, the operator must see it in one line
        if isinstance(getattr(error, "orig", None) or error, asyncpg.InvalidCatalogNameError) or (
            "does not exist" in str(error) and "database" in str(error)
        ):
            raise ConfigError(
                "DATABASE_URL",
                f"the database {engine.url.database!r} does not exist:"
                " run `oauth-apps migrate --create-database` to create it",
            ) from None
        raise DependencyUnavailable(
            "DATABASE_URL", f"cannot connect to the database: {_reason(error)}"
        ) from None


async def ensure_database(url: URL, *, create: bool) -> bool:
    """Make sure the database named by ``url`` exists; return whether it was created.

    A missing database is a ``ConfigError`` unless ``create`` is set.
    """
    name = url.database
    assert name is not None
    try:
        connection = await asyncpg.connect(asyncpg_dsn(url.set(database="postgres")), timeout=10)
    except Exception as error:
        raise DependencyUnavailable(
            "DATABASE_URL", f"cannot connect to the server: {_reason(error)}"
        ) from None
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        if not create:
            raise ConfigError(
                "DATABASE_URL",
                f"the database {name!r} does not exist:"
                " run `oauth-apps migrate --create-database` to create it",
            )
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await connection.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:  # created concurrently by another migrate
            return False
        return True
    finally:
        await connection.close()


def _reason(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    return (
        str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    )
