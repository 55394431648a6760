"""Rendering ``/metrics``: this process's (or all workers') metrics plus database gauges."""

from __future__ import annotations

import os
from collections.abc import Iterable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Metric,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from service.api.keys import DATABASE
from service.persistence import outbox
from service.persistence.oauth2 import grants as oauth2_grants


async def render_metrics(app: web.Application) -> tuple[bytes, str]:
    """Return the exposition text and its content type."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return generate_latest(registry) + await _database_metrics(app), CONTENT_TYPE_LATEST


async def _database_metrics(app: web.Application) -> bytes:
    """Gauges read from PostgreSQL at scrape time, the same whichever worker answers.

    They are metric families built for this scrape, not ``Gauge`` objects: in
    multiprocess mode a ``Gauge`` writes to this process's file, and every worker's
    last value would then show up again, per pid, in later scrapes.
    """
    async with app[DATABASE].autocommit.connect() as connection:
        count, age = await outbox.backlog(connection)
        live_grants = await oauth2_grants.count_live_grants(connection)
    backlog = GaugeMetricFamily(
        "oauth_apps_outbox_backlog", "Events not yet confirmed by RabbitMQ.", value=count
    )
    oldest = GaugeMetricFamily(
        "oauth_apps_outbox_oldest_unpublished_age_seconds",
        "Age of the oldest event still in the outbox (0 when empty).",
        value=age,
    )
    grants = GaugeMetricFamily(
        "oauth_apps_oauth_active_grants",
        "Grants not revoked (users who allowed an app).",
        value=live_grants,
    )
    registry = CollectorRegistry()
    registry.register(_Families([backlog, oldest, grants]))
    return generate_latest(registry)


class _Families(Collector):
    """Hands ready-made metric families to a registry."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        """Return the families."""
        return self._families
