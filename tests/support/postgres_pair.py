"""A private PostgreSQL primary with a synchronous hot standby, for failover tests.

Both are clusters of the machine's PostgreSQL made with ``pg_createcluster`` on free
ports and dropped afterwards; the machine's own cluster is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from tests.support.processes import free_port

VERSION = sorted(os.listdir("/etc/postgresql"))[-1] if os.path.isdir("/etc/postgresql") else "15"


async def _run(*command: str, timeout: float = 120) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, f"{command}: {output.decode()}"
    return output.decode()


class PostgresPair:
    """``primary`` and ``standby`` clusters; ``failover()`` kills one and promotes the other."""

    def __init__(self) -> None:
        suffix = secrets.token_hex(3)
        self.primary = f"oauthapps_primary_{suffix}"
        self.standby = f"oauthapps_standby_{suffix}"
        self.primary_port = free_port()
        self.standby_port = free_port()

    def url(self, database: str) -> str:
        """A DATABASE_URL naming both, for the server that accepts writes."""
        return (
            f"postgresql+asyncpg://postgres@/{database}?host=127.0.0.1:{self.primary_port}"
            f"&host=127.0.0.1:{self.standby_port}&target_session_attrs=read-write"
        )

    async def start(self) -> None:
        """Create the primary, then the standby from a base backup of it, synchronous."""
        await _run(
            "pg_createcluster",
            VERSION,
            self.primary,
            "-p",
            str(self.primary_port),
            "--start",
            "--",
            "--auth=trust",
        )
        await _run(
            "pg_createcluster",
            VERSION,
            self.standby,
            "-p",
            str(self.standby_port),
            "--",
            "--auth=trust",
        )
        data = Path(f"/var/lib/postgresql/{VERSION}/{self.standby}")
        # pg_basebackup wants the data directory empty.
        await _run(
            "runuser", "-u", "postgres", "--", "find", str(data), "-mindepth", "1", "-delete"
        )
        await _run(
            "runuser",
            "-u",
            "postgres",
            "--",
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary_port),
            "-U",
            "postgres",
            "-D",
            str(data),
            "-R",
            "-X",
            "stream",
        )
        auto = data / "postgresql.auto.conf"
        conninfo = (
            f"primary_conninfo = 'host=127.0.0.1 port={self.primary_port} user=postgres "
            "application_name=standby1'\n"
        )
        await _run("runuser", "-u", "postgres", "--", "sh", "-c", f'echo "{conninfo}" >> {auto}')
        await _run("pg_ctlcluster", VERSION, self.standby, "start")
        await self.sql(self.primary_port, "ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        await self.sql(self.primary_port, "SELECT pg_reload_conf()")

    async def sql(self, port: int, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql on a cluster of the pair."""
        return await _run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            database,
            "-Atc",
            statement,
        )

    async def failover(self) -> None:
        """Stop the primary at once (as a crash would) and promote the standby."""
        await _run("pg_ctlcluster", VERSION, self.primary, "stop", "-m", "immediate")
        await _run("pg_ctlcluster", VERSION, self.standby, "promote")

    async def drop(self) -> None:
        """Remove both clusters, whatever state they are in."""
        for name in (self.standby, self.primary):
            with contextlib.suppress(AssertionError, TimeoutError):
                await _run("pg_dropcluster", "--stop", VERSION, name)


@contextlib.asynccontextmanager
async def postgres_pair() -> AsyncIterator[PostgresPair]:
    """A started pair, dropped afterwards, also when the test fails."""
    pair = PostgresPair()
    try:
        await pair.start()
        yield pair
    finally:
        await pair.drop()


@contextlib.asynccontextmanager
async def private_postgres(*settings: str) -> AsyncIterator[int]:
    """One private cluster with these ``name=value`` settings; yields its port, dropped after."""
    name, port = f"oauthapps_private_{secrets.token_hex(3)}", free_port()
    options = [argument for setting in settings for argument in ("-o", setting)]
    try:
        await _run(
            "pg_createcluster",
            VERSION,
            name,
            "-p",
            str(port),
            *options,
            "--start",
            "--",
            "--auth=trust",
        )
        yield port
    finally:
        with contextlib.suppress(AssertionError, TimeoutError):
            await _run("pg_dropcluster", "--stop", VERSION, name)
