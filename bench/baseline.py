"""The straightforward pipeline the service is compared with, without HTTP.

Per app: one asyncpg transaction inserting the app row and the outbox row, then one
publish awaiting its own confirm (marking the row is left out, in the baseline's
favour). Run by bench/run.py with the service stopped; prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import secrets
import time
import uuid
from datetime import UTC, datetime

import aio_pika
import asyncpg
import uvloop


async def main(
    dsn: str, amqp_url: str, exchange_name: str, concurrency: int, seconds: float
) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(exchange_name)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                now = datetime.now(UTC)
                app_id = secrets.token_hex(12)
                secret = secrets.token_urlsafe(32)
                event = {
                    "specversion": "1.0",
                    "id": str(uuid.uuid4()),
                    "type": "oauth_app.created",
                    "subject": app_id,
                    "data": {"name": "baseline"},
                }
                body = json.dumps(event)
                async with pool.acquire() as db, db.transaction():
                    await db.execute(
                        "INSERT INTO oauth_apps (id, client_id, client_secret_hash, name, redirect_uri,"
                        " active, created_at, updated_at, created_by_id, created_by_username)"
                        " VALUES ($1, $2, $3, $4, $5, true, $6, $6, 'baseline', 'baseline')",
                        app_id,
                        secrets.token_hex(9)[:17],
                        base64.b64encode(hashlib.sha256(secret.encode()).digest()).decode(),
                        "baseline",
                        "https://a.test",
                        now,
                    )
                    await db.execute(
                        "INSERT INTO outbox (event_id, event_type, aggregate_id, payload, created_at)"
                        " VALUES ($1, 'oauth_app.created', $2, $3, $4)",
                        uuid.UUID(event["id"]),
                        app_id,
                        body,
                        now,
                    )
                await exchange.publish(
                    aio_pika.Message(body.encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    "oauth_app.created",
                )
                latencies.append(time.perf_counter() - started)
            except Exception:
                errors += 1

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    await connection.close()
    await pool.close()
    print(
        json.dumps(
            {
                "count": len(latencies),
                "errors": errors,
                "elapsed": elapsed,
                "cpu_seconds": cpu,
                "latencies": latencies,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--amqp-url", required=True)
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    uvloop.run(main(args.dsn, args.amqp_url, args.exchange, args.concurrency, args.seconds))
