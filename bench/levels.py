"""Load levels: each drives creates at one concurrency (or rate) and measures it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

from bench.cpu import CPU_PARTS, CpuMeter
from bench.environment import AMQP, BODY, DATABASE, EXCHANGE, PG, ROOT, Service, percentile
from bench.observer import Observer

# One request of a Python-client level: (session, client number) -> whether it succeeded.
Operation = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Hold the Python client's garbage collector over a level.

    Its pauses (50-170 ms for a full collection) would stall every request in flight
    and show up as the service's latency.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def closed_loop(
    base: str, operation: Operation, concurrency: int, seconds: float
) -> tuple[float, list[float]]:
    """Run ``operation`` from ``concurrency`` clients for ``seconds``: rate and latencies (ms)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(worker: int) -> None:
        async with aiohttp.ClientSession(base) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                assert await operation(http, worker)
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with paused_gc():
        await asyncio.gather(*(client(n) for n in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def open_loop(base: str, operation: Operation, rate: float, seconds: float) -> list[float]:
    """Start ``operation`` at a fixed ``rate`` for ``seconds``; return the latencies (ms)."""
    latencies: list[float] = []
    async with aiohttp.ClientSession(base) as http:
        tasks = []

        async def one(worker: int) -> None:
            started = time.perf_counter()
            assert await operation(http, worker)
            latencies.append((time.perf_counter() - started) * 1000)

        with paused_gc():
            begin = time.perf_counter()
            for n in range(int(rate * seconds)):
                await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(one(n % 64)))
            await asyncio.gather(*tasks)
    return latencies


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
        with paused_gc():
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


@dataclass
class WrkResult:
    """What wrk reports: requests answered per second, latency percentiles, errors."""

    rate: float
    percentiles: dict[float, float]
    errors: int


async def wrk(url: str, script: Path, concurrency: int, seconds: float) -> WrkResult:
    """Run wrk (one thread, closed loop) with a Lua script against ``url``."""
    process = await asyncio.create_subprocess_exec(
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{int(seconds)}s",
        "--latency",
        "-s",
        str(script),
        url,
        stdout=asyncio.subprocess.PIPE,
    )
    output = (await process.communicate())[0].decode()
    result = WrkResult(0.0, {}, 0)
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            result.percentiles[float(parts[0][:-1]) / 100] = _duration(parts[1])
        if line.startswith("Requests/sec:"):
            result.rate = float(parts[1])
        if line.strip().startswith("Non-2xx"):
            result.errors += int(parts[-1])
        if line.strip().startswith("Socket errors"):
            result.errors += sum(int(p.rstrip(",")) for p in parts if p.rstrip(",").isdigit())
    return result


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
    with paused_gc():  # the observer, in this process, times the events
        result = await wrk(f"{service.base}/api/v1/oauth-apps.create", script, concurrency, seconds)
        await backlog_task
    level.cpu = meter.stop()
    level.final_backlog = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL"
    )
    level.count = await db.fetchval("SELECT count(*) FROM oauth_apps") - before
    level.reported, level.errors = result.percentiles, result.errors
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
    """Latency and lag at about half of the peak rate.

    With wrk: the closed-loop concurrency whose rate, in a 2 s probe, comes closest to
    half of the peak (a Python client at that rate would itself eat the CPU it measures).
    Without wrk: the Python client in open loop at exactly half the peak rate.
    """
    name = f"{peak.name} @ half peak"
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
