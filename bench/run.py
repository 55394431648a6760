"""Benchmark: the service (`oauth-apps serve`, relay on, consumers off) against a baseline.

    .venv/bin/python bench/run.py [--seconds 10] [--repeat 3] [--concurrency 1 16 64]

Needs the local PostgreSQL and RabbitMQ; uses its own database (oauth_apps_bench) and
exchange (oauth_apps_bench). Prints a table, the service/baseline ratio and whether each
target of the performance issue holds; writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import orjson
import uvloop

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


CPU_PARTS = ("service", "postgres", "rabbitmq", "client", "observer")


def _process_cpu(service_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of the service's processes, PostgreSQL and RabbitMQ.

    Each process counts with the children it reaped, so the backends that a closed
    connection ended stay in PostgreSQL's total.
    """
    tick = os.sysconf("SC_CLK_TCK")
    parts = dict.fromkeys(CPU_PARTS[:3], 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, parent = int(entry.name), int(fields[1])
        if service_pid is not None and service_pid in (pid, parent):
            part = "service"
        elif command.startswith("postgres"):
            part = "postgres"
        elif command.startswith("beam"):
            part = "rabbitmq"
        else:
            continue
        parts[part] += sum(int(value) for value in fields[11:15]) / tick
    return parts


class CpuMeter:
    """CPU time by part of the machine over one level.

    The client (wrk or the baseline) is a child of this process and is counted when
    reaped; the observer is this process itself (with the Python client, the client
    too).
    """

    def __init__(self, service_pid: int | None) -> None:
        self._service_pid = service_pid
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        parts = _process_cpu(self._service_pid)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        this = resource.getrusage(resource.RUSAGE_SELF)
        parts["client"] = children.ru_utime + children.ru_stime
        parts["observer"] = this.ru_utime + this.ru_stime
        return parts

    def stop(self) -> dict[str, float]:
        """Return the CPU seconds each part used since the meter started."""
        end = self._read()
        return {part: max(0.0, end[part] - self._start[part]) for part in CPU_PARTS}


def relay_kept_up(backlog_growth: float, rate: float) -> bool:
    """Whether the outbox's backlog grew by less than 5% of the create rate."""
    return backlog_growth <= 0.05 * rate


@dataclass
class Level:
    """One measured load level."""

    name: str
    concurrency: int
    seconds: float
    count: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    # (seconds, unpublished events), sampled every 250 ms
    backlog: list[tuple[float, int]] = field(default_factory=list)
    final_backlog: int = 0
    workers: int = 1
    cpu: dict[str, float] = field(default_factory=dict)
    # wrk reports percentiles rather than samples.
    reported: dict[float, float] = field(default_factory=dict)

    def latency(self, q: float) -> float:
        return self.reported[q] if self.reported else percentile(self.latencies, q)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def row(self) -> dict[str, Any]:
        ms = 1000
        return {
            "level": self.name,
            "concurrency": self.concurrency,
            "creates/s": round(self.rate, 1),
            "p50 ms": round(self.latency(0.5) * ms, 2),
            "p90 ms": round(self.latency(0.9) * ms, 2),
            "p99 ms": round(self.latency(0.99) * ms, 2),
            "errors": self.errors,
            "lag p50 ms": round(percentile(self.lags, 0.5) * ms, 2) if self.lags else None,
            "lag p99 ms": round(percentile(self.lags, 0.99) * ms, 2) if self.lags else None,
            "max backlog": max((count for _, count in self.backlog), default=0),
            "final backlog": self.final_backlog,
            "backlog growth/s": round(self.backlog_growth),
            "cores busy": round(sum(self.cpu.values()) / self.seconds, 2),
            "cpu µs/create": self._cpu_per_create(sum(self.cpu.values())),
        } | {f"µs {part}": self._cpu_per_create(self.cpu.get(part, 0.0)) for part in CPU_PARTS}

    @property
    def backlog_growth(self) -> float:
        """Unpublished events gained per second over the level (least-squares slope)."""
        if len(self.backlog) < 2:
            return 0.0
        return statistics.linear_regression(*zip(*self.backlog, strict=True)).slope

    @property
    def sustained(self) -> bool:
        """Whether the relay kept up with this level."""
        return relay_kept_up(self.backlog_growth, self.rate)

    def _cpu_per_create(self, seconds: float) -> float | None:
        return round(seconds / self.count * 1e6) if self.count else None


class Observer:
    """Records when each app's created event arrives on a queue bound to the exchange."""

    def __init__(self) -> None:
        # App id -> wall-clock time of arrival, comparable with wrk's response times.
        self.arrivals: dict[str, float] = {}

    async def start(self) -> None:
        self.connection = await aio_pika.connect(AMQP)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=1000)
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, "#")
        await queue.consume(self._on_message, no_ack=True)

    async def empty_consumer_queues(self) -> None:
        """Purge the audit and notification queues, which fill up with no consumer running.

        Every level starts from empty queues: RabbitMQ's CPU per message grows with the
        messages queued (with 150,000 queued it was 2.5x its cost on empty queues), so
        without this each level would pay for the ones before it, the baseline (run
        last) most of all.
        """
        for name in CONSUMER_QUEUES:
            # Not declared yet before the first start: the service's relay declares it.
            async with await self.connection.channel() as channel:
                with contextlib.suppress(aio_pika.exceptions.ChannelNotFoundEntity):
                    await (await channel.get_queue(name)).purge()

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.arrivals[orjson.loads(message.body)["subject"]] = time.time()

    async def drain(self, sent: dict[str, float], timeout: float = 60) -> list[float]:
        """Wait for the events of the apps ``sent`` (id -> time of the HTTP 200); their lags."""
        deadline = time.perf_counter() + timeout
        while (
            any(app_id not in self.arrivals for app_id in sent) and time.perf_counter() < deadline
        ):
            await asyncio.sleep(0.05)
        return [self.arrivals[a] - t for a, t in sent.items() if a in self.arrivals]


class Service:
    """`oauth-apps serve` as a user starts it."""

    def __init__(self, env: dict[str, str], workers: int, *extra: str) -> None:
        self.env = env
        self.workers = workers
        self.extra = extra
        self.port = 3900 + workers

    async def __aenter__(self) -> Service:
        self.process = subprocess.Popen(
            [
                BIN / "oauth-apps",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                *self.extra,
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"{self.base}/health") as response:
                        if response.status == 200:
                            return self
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
        raise RuntimeError("service did not start")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_mb(self) -> dict[str, float]:
        """VmHWM (peak resident set) of the serving processes."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if self.workers > 1 and children.exists():
            pids = [
                int(p)
                for p in children.read_text().split()
                if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
            ]
        peaks = {}
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[str(pid)] = int(line.split()[1]) / 1024
        return peaks

    async def __aexit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(30)


async def drive(
    service: Service,
    headers: dict[str, str],
    observer: Observer,
    db: asyncpg.Connection,
    name: str,
    concurrency: int,
    seconds: float,
    rate: float | None = None,
) -> Level:
    """Closed loop with ``concurrency`` clients, or open loop at ``rate`` creates/s."""
    await observer.empty_consumer_queues()
    level = Level(name, concurrency, seconds)
    sent: dict[str, float] = {}
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=0 if rate else concurrency)
    async with aiohttp.ClientSession(service.base, connector=connector, headers=headers) as http:

        async def one() -> None:
            started = time.perf_counter()
            try:
                async with http.post("/api/v1/oauth-apps.create", json=BODY) as response:
                    payload = await response.read()
                    done, answered = time.perf_counter(), time.time()
                    if response.status != 200:
                        level.errors += 1
                        return
            except aiohttp.ClientError:
                level.errors += 1
                return
            level.latencies.append(done - started)
            sent[orjson.loads(payload)["application"]["_id"]] = answered

        async def closed_loop() -> None:
            while time.perf_counter() < deadline:
                await one()

        meter = CpuMeter(service.process.pid)
        sampler = asyncio.create_task(_sample_backlog(db, level, deadline))
        if rate is None:
            await asyncio.gather(*(closed_loop() for _ in range(concurrency)))
        else:
            tasks = []
            start = time.perf_counter()
            n = 0
            while (now := time.perf_counter()) < deadline:
                due = start + n / rate
                if now < due:
                    await asyncio.sleep(due - now)
                tasks.append(asyncio.create_task(one()))
                n += 1
            await asyncio.gather(*tasks)
        await sampler
        level.cpu = meter.stop()
    level.final_backlog = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL"
    )
    level.count = len(level.latencies)
    level.lags = await observer.drain(sent)
    return level


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-User-Id"] = "{user_id}"
wrk.headers["X-Auth-Token"] = "{token}"

-- Each answered create's app id and wall-clock time, for the event lag from the HTTP 200.
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]]
local now = ffi.new("bench_timespec")
local answers = io.open("{answers}", "w")

function response(status, headers, body)
  if status == 200 then
    ffi.C.clock_gettime(0, now)
    answers:write(body:match('"_id":"(%x+)"}},'), " ", tonumber(now.tv_sec), " ",
                  tonumber(now.tv_nsec), "\\n")
  end
end
"""


def _duration(text: str) -> float:
    for unit, factor in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(text)


async def drive_wrk(
    service: Service,
    headers: dict[str, str],
    observer: Observer,
    db: asyncpg.Connection,
    name: str,
    concurrency: int,
    seconds: float,
) -> Level:
    """Closed loop with wrk (one thread): a client in C leaves the cores to the service."""
    script = ROOT / "bench" / "results" / "create.lua"
    answers = script.with_name("answers.txt")
    script.parent.mkdir(exist_ok=True)
    script.write_text(
        WRK_SCRIPT.format(
            body=json.dumps(BODY),
            user_id=headers["X-User-Id"],
            token=headers["X-Auth-Token"],
            answers=answers,
        )
    )
    await observer.empty_consumer_queues()
    level = Level(name, concurrency, seconds)
    before = await db.fetchval("SELECT count(*) FROM oauth_apps")
    meter = CpuMeter(service.process.pid)
    backlog_task = asyncio.create_task(_sample_backlog(db, level, time.perf_counter() + seconds))
    process = await asyncio.create_subprocess_exec(
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{int(seconds)}s",
        "--latency",
        "-s",
        str(script),
        f"{service.base}/api/v1/oauth-apps.create",
        stdout=asyncio.subprocess.PIPE,
    )
    output = (await process.communicate())[0].decode()
    await backlog_task
    level.cpu = meter.stop()
    level.final_backlog = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL"
    )
    created = await db.fetchval("SELECT count(*) FROM oauth_apps") - before
    level.count = created
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            level.reported[float(parts[0][:-1]) / 100] = _duration(parts[1])
        if line.strip().startswith("Non-2xx"):
            level.errors += int(parts[-1])
        if line.strip().startswith("Socket errors"):
            level.errors += sum(int(p.rstrip(",")) for p in parts if p.rstrip(",").isdigit())
    sent = {}
    for line in answers.read_text().splitlines():
        app_id, seconds_part, nanoseconds = line.split()
        sent[app_id] = int(seconds_part) + int(nanoseconds) / 1e9
    level.lags = await observer.drain(sent)
    return level


async def _sample_backlog(db: asyncpg.Connection, level: Level, deadline: float) -> None:
    while (now := time.perf_counter()) < deadline:
        count = await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        level.backlog.append((now, count))
        await asyncio.sleep(0.25)


async def half_peak(
    args: argparse.Namespace,
    service: Service,
    headers: dict[str, str],
    observer: Observer,
    db: asyncpg.Connection,
    peak: Level,
) -> Level:
    """Latency and lag at about half of the peak rate (of either worker count).

    With wrk: the closed-loop concurrency whose rate, in a 2 s probe, comes closest to
    half of the peak (a Python client at that rate would itself eat the CPU it measures).
    Without wrk: the Python client in open loop at exactly half the peak rate.
    """
    name = "service" if service.workers == 1 else f"service --workers {service.workers}"
    name += " @ half peak"
    if args.client != "wrk":
        return await drive(
            service, headers, observer, db, name, peak.concurrency, args.seconds, rate=peak.rate / 2
        )
    probes = [await drive_wrk(service, headers, observer, db, "probe", c, 2) for c in (1, 2, 4, 8)]
    best = min(probes, key=lambda probe: abs(probe.rate - peak.rate / 2))
    return await drive_wrk(service, headers, observer, db, name, best.concurrency, args.seconds)


async def run_baseline(observer: Observer, concurrency: int, seconds: float) -> Level:
    """Run the baseline while the observer goes on receiving its events, as for the service."""
    await observer.empty_consumer_queues()
    meter = CpuMeter(service_pid=None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        ROOT / "bench" / "baseline.py",
        "--dsn",
        f"{PG}/{DATABASE}",
        "--amqp-url",
        AMQP,
        "--exchange",
        EXCHANGE,
        "--concurrency",
        str(concurrency),
        "--seconds",
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    output = (await process.communicate())[0]
    if process.returncode != 0:
        raise RuntimeError(f"baseline failed with status {process.returncode}")
    result = json.loads(output)
    level = Level("baseline", concurrency, result["elapsed"])
    # The baseline's own CPU over its measured window, without its start-up.
    level.cpu = meter.stop() | {"client": result["cpu_seconds"]}
    level.count, level.errors, level.latencies = (
        result["count"],
        result["errors"],
        result["latencies"],
    )
    return level


async def remove_leftovers() -> None:
    """Drop the benchmark's database, queues and exchanges (before a run, and after it)."""
    connection = await aio_pika.connect(AMQP)
    async with connection:
        channel = await connection.channel()
        for queue in ("audit", "notification", "audit.dlq", "notification.dlq"):
            await channel.queue_delete(f"{EXCHANGE}.{queue}")
        for exchange in (EXCHANGE, f"{EXCHANGE}.dlx"):
            await channel.exchange_delete(exchange)
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await admin.close()


async def prepare() -> tuple[dict[str, str], dict[str, str]]:
    # Earlier runs may have left millions of messages in the consumer queues (no
    # consumer runs here), which slows RabbitMQ down: start every run from nothing.
    await remove_leftovers()
    env = dict(os.environ) | {
        "DATABASE_URL": f"{PG.replace('postgresql://', 'postgresql+asyncpg://')}/{DATABASE}",
        "AMQP_URL": AMQP,
        "EVENTS_EXCHANGE": EXCHANGE,
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_CALLS": "0",
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


async def one_round(
    args: argparse.Namespace, env: dict[str, str], headers: dict[str, str]
) -> dict[str, Any]:
    observer = Observer()
    await observer.start()
    db = await asyncpg.connect(f"{PG}/{DATABASE}")
    levels: list[Level] = []
    rss: dict[str, dict[str, float]] = {}
    closed_loop = drive_wrk if args.client == "wrk" else drive
    for workers in (1, 2):
        name = "service" if workers == 1 else f"service --workers {workers}"
        async with Service(env, workers) as service:
            # Unmeasured: until the relay holds its lock and every process has its
            # connections and prepared statements, the first events wait far longer.
            await closed_loop(service, headers, observer, db, "warm-up", 8, 2)
            for concurrency in args.concurrency:
                level = await closed_loop(
                    service, headers, observer, db, name, concurrency, args.seconds
                )
                level.workers = workers
                levels.append(level)
            rss[f"workers={workers}"] = service.peak_rss_mb()
    # The peak is the best level at which the relay kept up; a faster one that leaves
    # events behind is not a rate the service can sustain.
    sustained = [level for level in levels if level.sustained] or levels
    peak = max(sustained, key=lambda level: level.rate)
    for workers in (1, 2):
        async with Service(env, workers) as service:
            levels.append(await half_peak(args, service, headers, observer, db, peak))
    for concurrency in args.concurrency:
        levels.append(await run_baseline(observer, concurrency, args.seconds))
        await db.execute("UPDATE outbox SET published_at = now() WHERE published_at IS NULL")
    await db.close()
    await observer.connection.close()
    return {"levels": [level.row() for level in levels], "rss_mb": rss}


def median_rows(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for index, first in enumerate(rounds[0]["levels"]):
        row = dict(first)
        for key, value in first.items():
            if isinstance(value, int | float) and key != "concurrency":
                samples = [
                    r["levels"][index][key] for r in rounds if r["levels"][index][key] is not None
                ]
                row[key] = round(statistics.median(samples), 2)
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join("" if row[c] is None else str(row[c]) for c in columns) + " |")


def report(
    rows: list[dict[str, Any]], rss: dict[str, dict[str, float]], repeat: int
) -> dict[str, Any]:
    print(f"\nmedians of {repeat} run(s)\n")
    cpu = ["level", "concurrency", "cores busy", "cpu µs/create"]
    cpu += [column for column in rows[0] if column.startswith("µs ")]
    print_table(rows, [column for column in rows[0] if column not in cpu[2:]])
    print(
        "\nCPU per create, by part of the machine (client: wrk, or the baseline script"
        " itself; observer: this script, which times the events)\n"
    )
    print_table(rows, cpu)

    def best_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return max(rows, key=lambda r: r["creates/s"])

    service = [r for r in rows if r["level"].startswith("service") and "@" not in r["level"]]
    fastest = best_of(service)
    best = best_of(
        [r for r in service if relay_kept_up(r["backlog growth/s"], r["creates/s"])] or service
    )
    best_baseline = best_of([r for r in rows if r["level"] == "baseline"])
    one = best_of([r for r in service if r["level"] == "service"])
    two = best_of([r for r in service if r["level"] == "service --workers 2"])
    # At half of the peak rate, either worker count may serve; both are shown.
    halves = [r for r in rows if "@ half peak" in r["level"]]
    half_p99 = min(halves, key=lambda r: r["p99 ms"])
    half_lag = min(halves, key=lambda r: r["lag p99 ms"] or 1e9)

    def also(key: str, chosen: dict[str, Any]) -> str:
        return "; ".join(
            f"{r[key]} ms with {r['level'].removesuffix(' @ half peak')}"
            for r in halves
            if r is not chosen
        )

    ratio = best["creates/s"] / best_baseline["creates/s"]
    peak_rss = max(v for procs in rss.values() for v in procs.values())
    targets = {
        f"creates/s at best concurrency >= 1.5x baseline's best (ratio {ratio:.2f})": ratio >= 1.5,
        f"p99 <= 25 ms at half of peak ({half_p99['p99 ms']} ms with"
        f" {half_p99['level'].removesuffix(' @ half peak')}; {also('p99 ms', half_p99)})": half_p99[
            "p99 ms"
        ]
        <= 25,
        f"event lag p99 <= 50 ms at half of peak ({half_lag['lag p99 ms']} ms with"
        f" {half_lag['level'].removesuffix(' @ half peak')};"
        f" {also('lag p99 ms', half_lag)})": (half_lag["lag p99 ms"] or 1e9) <= 50,
        f"outbox does not grow without bound at peak (growth {best['backlog growth/s']}/s"
        f" at {best['creates/s']} creates/s)": relay_kept_up(
            best["backlog growth/s"], best["creates/s"]
        ),
        f"peak RSS <= 100 MB per API process ({peak_rss:.1f} MB)": peak_rss <= 100,
        f"--workers 2 faster than 1 ({two['creates/s']} vs {one['creates/s']} creates/s)": two[
            "creates/s"
        ]
        > one["creates/s"],
    }
    print(
        f"\nservice/baseline ratio (best vs best): {ratio:.2f}"
        f" ({best['level']} at {best['concurrency']} vs baseline at {best_baseline['concurrency']})"
    )
    if fastest is not best:
        print(
            f"faster but not sustained: {fastest['level']} at {fastest['concurrency']},"
            f" {fastest['creates/s']} creates/s while the outbox grew by"
            f" {fastest['backlog growth/s']} events/s"
        )
    print(f"peak RSS per process of serve (MB): {json.dumps(rss)}")
    print("\ntargets:")
    for text, holds in targets.items():
        print(f"  [{'x' if holds else ' '}] {text}")
    return {"rows": rows, "rss_mb": rss, "ratio": ratio, "targets": targets}


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--client",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator of the closed-loop levels (default: wrk when installed)",
    )
    args = parser.parse_args()
    half_peak_client = "wrk (closed loop)" if args.client == "wrk" else "python (open loop)"
    print(f"load generator: {args.client}; half-peak level: {half_peak_client}", file=sys.stderr)
    env, headers = await prepare()
    rounds = []
    try:
        for n in range(args.repeat):
            print(f"run {n + 1}/{args.repeat} ...", file=sys.stderr)
            rounds.append(await one_round(args, env, headers))
    finally:
        await remove_leftovers()
    rss = {
        k: {"max": max(max(r["rss_mb"][k].values()) for r in rounds)} for k in rounds[0]["rss_mb"]
    }
    summary = report(median_rows(rounds), rss, args.repeat)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(
        json.dumps({"rounds": rounds, "summary": summary}, indent=2, default=str)
    )


if __name__ == "__main__":
    uvloop.run(main())
