"""Benchmark at a million rows (contract section 11): reads, creates and purges.

    .venv/bin/python -m bench.data_scale [--apps 1000000] [--seconds 5] [--loaded-concurrency 4]

In a database and exchange of its own (oauth_apps_bench_scale), with `oauth-apps serve`
as a user runs it:
1. creates at a fixed rate on the empty database (the reference p99);
2. seeds 1,000,000 apps, 1,000,000 published outbox events and 1,000,000 audit
   entries, then measures with wrk, one connection (the targets) and then four (for
   the record): the list's first page, offset 10,000, pages reached through cursors
   at random depths (and, for comparison, offset 999,900), get by id; and creates at
   the same fixed rate;
3. adds rows that the scheduled purges delete (published events and processed marks
   past their retention, expired idempotency keys and OAuth tokens), restarts the
   service, whose relay then purges in batches, and measures creates again while it
   does.
Prints each figure with its target.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from typing import Any

import aiohttp
import asyncpg
import uvloop

from bench.environment import BODY, PG, ROOT, Service, percentile, prepare, remove_leftovers
from bench.levels import WrkResult, open_loop, wrk
from bench.report import print_table, print_targets
from service.domain.pagination import Cursor

NAME = "oauth_apps_bench_scale"

SEED_APPS = """
INSERT INTO oauth_apps (id, client_id, client_secret_hash, name, redirect_uri, active,
                        created_at, updated_at, created_by_id, created_by_username)
SELECT lpad(to_hex(g), 24, '0'), 'seed' || lpad(g::text, 13, '0'), repeat('h', 44),
       'seeded app ' || g, 'https://seed.test/cb', true,
       now() - interval '400 days' + g * interval '30 seconds',
       now() - interval '400 days' + g * interval '30 seconds', $2, 'bench'
FROM generate_series(1, $1) AS g
"""
# Published within the outbox's retention: kept, as they would be at a high rate.
SEED_EVENTS = """
INSERT INTO outbox (event_id, event_type, aggregate_id, payload, created_at, published_at)
SELECT gen_random_uuid(), 'oauth_app.created', lpad(to_hex(g), 24, '0'), '{"seeded": true}',
       now() - interval '6 days' + g * interval '0.4 seconds',
       now() - interval '6 days' + g * interval '0.4 seconds' + interval '10 ms'
FROM generate_series(1, $1) AS g
"""
SEED_AUDIT = """
INSERT INTO audit_log (event_id, event_type, app_id, actor_id, actor_username, occurred_at, data)
SELECT gen_random_uuid(), 'oauth_app.created', lpad(to_hex(g), 24, '0'), $2, 'bench',
       now() - interval '400 days' + g * interval '30 seconds', '{"seeded": true}'
FROM generate_series(1, $1) AS g
"""
# What the purges delete. The old events get seq numbers below every other event's
# (they are older), which is where the relay's purge looks.
SEED_PURGEABLE = [
    """
    INSERT INTO outbox (seq, event_id, event_type, aggregate_id, payload, created_at,
                        published_at) OVERRIDING SYSTEM VALUE
    SELECT -g, gen_random_uuid(), 'oauth_app.created', 'old', '{}',
           now() - interval '9 days', now() - interval '9 days'
    FROM generate_series(1, $1) AS g
    """,
    """
    INSERT INTO processed_events (consumer, event_id, processed_at)
    SELECT 'audit', gen_random_uuid(), now() - interval '9 days' FROM generate_series(1, $1)
    """,
    """
    INSERT INTO idempotency_keys (user_id, key, fingerprint, state, created_at, expires_at)
    SELECT 'bench', 'old-' || g, 'f', 'done', now() - interval '2 days', now() - interval '1 day'
    FROM generate_series(1, $1) AS g
    """,
    """
    INSERT INTO oauth_tokens (token_hash, kind, grant_id, family, created_at, expires_at)
    SELECT 'expired-' || g, 'access', 'bench-grant', 'f' || g, now() - interval '2 days',
           now() - interval '1 day'
    FROM generate_series(1, $1) AS g
    """,
]
PURGED_TABLES = ("outbox", "processed_events", "idempotency_keys", "oauth_tokens")

READ_SCRIPT = """
local paths = {{}}
for line in io.lines("{paths}") do table.insert(paths, line) end
local next = 0
wrk.headers["X-User-Id"] = "{user_id}"
wrk.headers["X-Auth-Token"] = "{token}"

function request()
  next = next % #paths + 1
  return wrk.format("GET", paths[next])
end
"""


async def creates_at(
    service: Service, headers: dict[str, str], rate: float, seconds: float
) -> float:
    """p99 (ms) of creates started at a fixed ``rate`` (open loop, Python client).

    After three unmeasured seconds at that rate: a fresh process prepares its
    statements and opens its connections on its first requests, and its creates are
    held until the relay (a process of its own) has started publishing.
    """

    async def create(http: aiohttp.ClientSession, _: int) -> bool:
        async with http.post("/api/v1/oauth-apps.create", json=BODY, headers=headers) as answer:
            return answer.status == 200

    await open_loop(service.base, create, rate, 3)
    return percentile(await open_loop(service.base, create, rate, seconds), 0.99)


async def read_level(
    service: Service,
    headers: dict[str, str],
    paths: list[str],
    concurrency: int,
    args: argparse.Namespace,
) -> WrkResult:
    """wrk cycling through ``paths`` (GETs) with ``concurrency`` connections."""
    directory = ROOT / "bench" / "results"
    directory.mkdir(exist_ok=True)
    listing, script = directory / "read-paths.txt", directory / "read.lua"
    listing.write_text("\n".join(paths) + "\n")
    script.write_text(
        READ_SCRIPT.format(
            paths=listing, user_id=headers["X-User-Id"], token=headers["X-Auth-Token"]
        )
    )
    return await wrk(service.base + paths[0], script, concurrency, args.seconds)


async def settle(db: asyncpg.Connection) -> None:
    """Write out what seeding (or an earlier benchmark) left dirty, before measuring.

    Seeding writes gigabytes of WAL: the checkpoint it makes due, and the kernel's
    writeback, would otherwise run during the measurements, and commits would wait
    for the disk (hundreds of milliseconds on this machine).
    """
    await db.execute("CHECKPOINT")
    os.sync()


async def seed(db: asyncpg.Connection, apps: int, user_id: str) -> float:
    """Fill the database; return the seconds it took."""
    started = time.perf_counter()
    await db.execute(SEED_APPS, apps, user_id)
    await db.execute(SEED_EVENTS, apps)
    await db.execute(SEED_AUDIT, apps, user_id)
    await db.execute("VACUUM ANALYZE")
    await settle(db)
    return time.perf_counter() - started


async def seed_purgeable(db: asyncpg.Connection, rows: int, user_id: str) -> None:
    await db.execute(
        "INSERT INTO oauth_grants (id, app_id, user_id, created_at)"
        " VALUES ('bench-grant', lpad(to_hex(1), 24, '0'), $1, now())",
        user_id,
    )
    for statement in SEED_PURGEABLE:
        await db.execute(statement, rows)
    await db.execute("VACUUM ANALYZE")
    await settle(db)


async def purgeable(db: asyncpg.Connection) -> int:
    return int(
        await db.fetchval(
            "SELECT (SELECT count(*) FROM outbox WHERE seq < 0)"
            " + (SELECT count(*) FROM processed_events)"
            " + (SELECT count(*) FROM idempotency_keys WHERE expires_at < now())"
            " + (SELECT count(*) FROM oauth_tokens WHERE expires_at < now())"
        )
    )


async def measure(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, bool]]:
    env, headers = await prepare(NAME)
    db = await asyncpg.connect(f"{PG}/{NAME}")
    rows: list[dict[str, Any]] = []

    def add(name: str, p99: float, note: str = "", rate: float | None = None) -> None:
        rows.append(
            {
                "measure": name,
                "p99 ms": round(p99, 2),
                "requests/s": None if rate is None else round(rate, 1),
                "note": note,
            }
        )

    try:
        await settle(db)
        async with Service(env) as service:
            empty_create = await creates_at(service, headers, args.create_rate, args.seconds)
        add("create, empty database", empty_create, f"open loop at {args.create_rate}/s")
        seeded = await seed(db, args.apps, headers["X-User-Id"])
        print(f"seeded {args.apps} apps, events and audit entries in {seeded:.0f} s")
        apps = int(await db.fetchval("SELECT count(*) FROM oauth_apps"))
        sample = random.Random(7).sample(range(1, args.apps + 1), 200)
        ids = [f"{n:024x}" for n in sample]
        positions = await db.fetch("SELECT created_at, id FROM oauth_apps WHERE id = ANY($1)", ids)
        cursors = [Cursor(row["created_at"], row["id"]).encode() for row in positions]
        reads = {
            "list, first page": ["/api/v1/oauth-apps.list"],
            "list, offset 10,000": ["/api/v1/oauth-apps.list?offset=10000"],
            "list, cursor at a random depth": [
                f"/api/v1/oauth-apps.list?cursor={cursor}" for cursor in cursors
            ],
            "list, offset 999,900 (for comparison)": ["/api/v1/oauth-apps.list?offset=999900"],
            "get by _id": [f"/api/v1/oauth-apps.get?_id={app_id}" for app_id in ids],
        }
        async with Service(env) as service, aiohttp.ClientSession(service.base) as http:
            async with http.get("/api/v1/oauth-apps.list", headers=headers) as answer:
                total = (await answer.json())["total"]
            # The targets are one caller's latency (an administrator paging); the same
            # reads under load, for the record, at --loaded-concurrency.
            for concurrency in (1, args.loaded_concurrency):
                for name, paths in reads.items():
                    result = await read_level(service, headers, paths, concurrency, args)
                    add(
                        name if concurrency == 1 else f"{name}, {concurrency} connections",
                        result.percentiles[0.99] * 1000,
                        f"wrk, {concurrency} connection(s); {result.errors} errors",
                        result.rate,
                    )
            full_create = await creates_at(service, headers, args.create_rate, args.seconds)
        add("create, full database", full_create, f"open loop at {args.create_rate}/s")
        await seed_purgeable(db, args.purgeable, headers["X-User-Id"])
        before = await purgeable(db)
        async with Service(env) as service:  # its relay purges at once, in batches
            purging_create = await creates_at(service, headers, args.create_rate, args.seconds)
            after = await purgeable(db)
        add(
            "create, full database, purges running",
            purging_create,
            f"{before - after} old rows purged during the level, {after} left",
        )
    finally:
        await db.close()
        await remove_leftovers(NAME)

    p99 = {row["measure"]: row["p99 ms"] for row in rows}
    targets = {
        f"list first page p99 <= 20 ms ({p99['list, first page']} ms)": p99["list, first page"]
        <= 20,
        f"list at offset 10,000 p99 <= 30 ms ({p99['list, offset 10,000']} ms)": p99[
            "list, offset 10,000"
        ]
        <= 30,
        f"any page through a cursor p99 <= 30 ms ({p99['list, cursor at a random depth']} ms)": (
            p99["list, cursor at a random depth"] <= 30
        ),
        f"total is exact ({total} answered, {apps} apps counted)": total == apps,
        f"get p99 <= 10 ms ({p99['get by _id']} ms)": p99["get by _id"] <= 10,
        f"create p99 on a full database <= 1.5x empty ({full_create:.2f} vs"
        f" {empty_create:.2f} ms)": full_create <= 1.5 * empty_create,
        f"create p99 while purges run <= 1.1x without ({purging_create:.2f} vs"
        f" {full_create:.2f} ms; {before - after} rows purged meanwhile)": (
            purging_create <= 1.1 * full_create and before > after
        ),
    }
    return rows, targets


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apps", type=int, default=1_000_000)
    parser.add_argument("--purgeable", type=int, default=200_000, help="old rows per table")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument(
        "--loaded-concurrency", type=int, default=4, help="wrk connections of the loaded reads"
    )
    parser.add_argument("--create-rate", type=float, default=200, help="creates/s (open loop)")
    args = parser.parse_args()
    rows, targets = await measure(args)
    print()
    print_table(rows, list(rows[0]))
    print_targets(targets)


if __name__ == "__main__":
    uvloop.run(main())
