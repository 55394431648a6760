"""The benchmark's own database, exchange and user, and the service as a user starts it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import aio_pika
import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATABASE = "oauth_apps_bench"
EXCHANGE = "oauth_apps_bench"
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
AMQP = os.environ.get("BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
CONSUMER_QUEUES = (f"{EXCHANGE}.audit", f"{EXCHANGE}.notification")
BODY = {"name": "bench", "active": True, "redirectUri": "https://bench.test/cb"}
PASSWORD = "bench-password"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def remove_leftovers(name: str = DATABASE) -> None:
    """Drop a benchmark's database, queues and exchanges (before a run, and after it).

    ``name`` is both the database's and the exchange's (and the queues' prefix).
    """
    connection = await aio_pika.connect(AMQP)
    async with connection:
        channel = await connection.channel()
        for queue in ("audit", "notification", "audit.dlq", "notification.dlq"):
            await channel.queue_delete(f"{name}.{queue}")
        for exchange in (name, f"{name}.dlx"):
            await channel.exchange_delete(exchange)
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def vacuum_if_autovacuum_is_off(db: asyncpg.Connection) -> bool:
    """Do what autovacuum would do between measurements, on a server where it is off.

    Some CI machines turn autovacuum off; production servers run it (it is on by
    default, and visits a table this busy about once a minute). A refresh grant leaves
    two dead row versions in ``oauth_tokens``: unvacuumed, and with statistics never
    gathered, PostgreSQL's CPU per grant doubled within 30 s (3,458 -> 2,110 grants/s
    over six 5-s levels; 4,800-6,700/s with a VACUUM before each level). The
    benchmark vacuums before each round's creates and before each operation of the
    token endpoint: at most once a minute, as autovacuum would. Returns whether it did.
    """
    if await db.fetchval("SHOW autovacuum") != "off":
        return False
    await db.execute("VACUUM (ANALYZE)")
    return True


async def prepare(name: str = DATABASE) -> tuple[dict[str, str], dict[str, str]]:
    """A new database and exchange called ``name``, migrated, with an admin and its token.

    Returns the service's environment and the admin's REST headers.
    """
    # Earlier runs may have left millions of messages in the consumer queues (no
    # consumer runs here), which slows RabbitMQ down: start every run from nothing.
    await remove_leftovers(name)
    env = dict(os.environ) | {
        "DATABASE_URL": f"{PG.replace('postgresql://', 'postgresql+asyncpg://')}/{name}",
        "AMQP_URL": AMQP,
        "EVENTS_EXCHANGE": name,
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_CALLS": "0",
        # The database is new each run, so is the secret that seals its signing keys.
        "SECRET_KEY": secrets.token_urlsafe(32),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cli = BIN / "oauth-apps"
    subprocess.run([cli, "migrate", "--create-database"], env=env, check=True, capture_output=True)
    subprocess.run(
        [cli, "users", "create", "--username", "bench", "--password", PASSWORD, "--role", "admin"],
        env=env,
        check=True,
        capture_output=True,
    )
    token = json.loads(
        subprocess.run(
            [cli, "tokens", "create", "--username", "bench"],
            env=env,
            check=True,
            capture_output=True,
        ).stdout
    )
    return env, {"X-User-Id": token["userId"], "X-Auth-Token": token["authToken"]}


class Service:
    """`oauth-apps serve` as a user starts it: by default, without ``--workers``."""

    def __init__(self, env: dict[str, str], *extra: str) -> None:
        self.env = env
        self.extra = extra
        self.port = 3900

    async def __aenter__(self) -> Service:
        self.process = subprocess.Popen(
            [BIN / "oauth-apps", "serve", "--port", str(self.port), *self.extra],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        async with aiohttp.ClientSession() as http:
            for _ in range(400):
                try:
                    async with http.get(f"{self.base}/ready") as response:
                        if response.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("service did not start")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> dict[int, str]:
        """The service's processes: pid -> name (the supervisor, then its API workers and relay)."""
        found = {self.process.pid: "serve"}
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            for pid in sorted(map(int, children.read_text().split())):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found[pid] = f"child {len(found)}"
        return found

    def peak_rss_mb(self) -> dict[str, float]:
        """VmHWM (peak resident set) of each of the service's processes, by name."""
        peaks: dict[str, float] = {}
        for pid, name in self.processes().items():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[name] = int(line.split()[1]) / 1024
        return peaks

    async def __aexit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(30)
