"""Rendering ``/metrics``: this process's (or all workers') metrics plus database gauges."""

from __future__ import annotations

import os

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
    multiprocess,
)
from sqlalchemy import func, select

from service.api.keys import DATABASE
from service.persistence import outbox
from service.persistence.models import ProcessedEvent


async def render_metrics(app: web.Application) -> tuple[bytes, str]:
    """Return the exposition text and its content type."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return generate_latest(registry) + await _database_metrics(app), CONTENT_TYPE_LATEST


async def _database_metrics(app: web.Application) -> bytes:
    """Gauges read from PostgreSQL at scrape time, the same whichever worker answers."""
    registry = CollectorRegistry()
    backlog = Gauge(
        "oauth_apps_outbox_backlog", "Events not yet confirmed by RabbitMQ.", registry=registry
    )
    oldest = Gauge(
        "oauth_apps_outbox_oldest_unpublished_age_seconds",
        "Age of the oldest event still in the outbox (0 when empty).",
        registry=registry,
    )
    processed = Gauge(
        "oauth_apps_consumer_processed_events",
        "Events each consumer has acted on (its processed_events rows).",
        ["consumer"],
        registry=registry,
    )
    async with app[DATABASE].autocommit.connect() as connection:
        count, age = await outbox.backlog(connection)
        rows = await connection.execute(
            select(ProcessedEvent.consumer, func.count()).group_by(ProcessedEvent.consumer)
        )
        for consumer, total in rows:
            processed.labels(consumer).set(total)
    backlog.set(count)
    oldest.set(age)
    return generate_latest(registry)
