"""Benchmark: `oauth-apps serve` as a user runs it (relay on, consumers off) against a baseline.

    .venv/bin/python -m bench.run [--seconds 10] [--repeat 3] [--concurrency 1 16 64]

Needs the local PostgreSQL and RabbitMQ; uses its own database (oauth_apps_bench) and
exchange (oauth_apps_bench). Prints a table, the service/baseline ratio and whether each
target of the performance issues holds; writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Any

import asyncpg
import uvloop

from bench import oauth2
from bench.environment import (
    DATABASE,
    PG,
    ROOT,
    Service,
    prepare,
    remove_leftovers,
    vacuum_if_autovacuum_is_off,
)
from bench.levels import Level, drive, drive_wrk, half_peak, run_baseline
from bench.observer import Observer
from bench.report import report


async def one_round(
    args: argparse.Namespace, env: dict[str, str], headers: dict[str, str]
) -> dict[str, Any]:
    observer = Observer()
    await observer.start()
    db = await asyncpg.connect(f"{PG}/{DATABASE}")
    levels: list[Level] = []
    closed_loop = drive_wrk if args.client == "wrk" else drive
    # A checkpoint that earlier writes made due, or the kernel writing back their dirty
    # pages, would otherwise run in the middle of this round's levels: on this
    # machine's disk, commits then wait hundreds of milliseconds.
    await vacuum_if_autovacuum_is_off(db)
    await db.execute("CHECKPOINT")
    os.sync()
    async with Service(env) as service:
        processes = len(service.processes())
        # Unmeasured: until the relay holds its lock and every process has its
        # connections and prepared statements, the first events wait far longer
        # (p99 several times the steady figure over the first ten seconds).
        await closed_loop(service, headers, observer, db, "warm-up", 16, 6)
        for concurrency in args.concurrency:
            levels.append(
                await closed_loop(
                    service, headers, observer, db, "serve", concurrency, args.seconds
                )
            )
        # The peak is the best level at which the relay kept up; a faster one that leaves
        # events behind is not a rate the service can sustain.
        sustained = [level for level in levels if level.sustained] or levels
        peak = max(sustained, key=lambda level: level.rate)
        levels.append(await half_peak(args, service, headers, observer, db, peak))
        tokens = await oauth2.measure(
            service, headers, db, args.concurrency, args.seconds, client=args.client
        )
        rss = service.peak_rss_mb()
    for concurrency in args.concurrency:
        levels.append(await run_baseline(observer, concurrency, args.seconds))
        await db.execute("UPDATE outbox SET published_at = now() WHERE published_at IS NULL")
    await db.close()
    await observer.connection.close()
    return {
        "levels": [level.row() for level in levels],
        "tokens": tokens,
        "rss_mb": rss,
        "processes": processes,
    }


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
    db = await asyncpg.connect(f"{PG}/{DATABASE}")
    if await vacuum_if_autovacuum_is_off(db):
        print(
            "autovacuum is off on this server: the benchmark vacuums its database before"
            " each round's creates and each token operation, as autovacuum would",
            file=sys.stderr,
        )
    await db.close()
    rounds = []
    try:
        for n in range(args.repeat):
            print(f"run {n + 1}/{args.repeat} ...", file=sys.stderr)
            rounds.append(await one_round(args, env, headers))
    finally:
        await remove_leftovers()
    summary = report(rounds)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(
        json.dumps({"rounds": rounds, "summary": summary}, indent=2, default=str)
    )


if __name__ == "__main__":
    uvloop.run(main())
