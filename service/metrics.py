"""Prometheus metrics of every process; with several workers, in multiprocess mode.

``serve --workers N`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start, so
these objects write to shared files and any worker's ``/metrics`` shows the sum.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "oauth_apps_http_requests_total",
    "HTTP requests by route, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "oauth_apps_http_request_duration_seconds",
    "HTTP request latency by route.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
DB_POOL_IN_USE = Gauge(
    "oauth_apps_db_pool_connections_in_use",
    "Database connections checked out of this process's pool.",
    multiprocess_mode="livesum",
)
CREATES_HELD = Gauge(
    "oauth_apps_creates_held",
    "1 while this process holds creates because the relay is publishing but behind.",
    multiprocess_mode="livemax",
)
RELAY_BROKER_BLOCKED = Gauge(
    "oauth_apps_relay_broker_blocked",
    "1 while RabbitMQ blocks the relay's connection (a memory or disk alarm).",
    multiprocess_mode="livemax",
)
EVENTS_PUBLISHED = Counter(
    "oauth_apps_events_published_total", "Events confirmed by RabbitMQ.", ["type"]
)
EVENTS_PUBLISH_FAILED = Counter(
    "oauth_apps_events_publish_failures_total",
    "Events not confirmed (nack, return, timeout, lost connection); they stay in the outbox.",
)
CONSUMER_MESSAGES = Counter(
    "oauth_apps_consumer_messages_total",
    "Messages handled by a consumer, by outcome"
    " (acked, failed_attempt, dead_lettered, retried_in_place).",
    ["consumer", "outcome"],
)
OAUTH_TOKENS_ISSUED = Counter(
    "oauth_apps_oauth_tokens_issued_total",
    "Token responses of /oauth/token, by grant type.",
    ["grant_type"],
)
OAUTH_TOKEN_ERRORS = Counter(
    "oauth_apps_oauth_token_errors_total",
    "Errors of the OAuth endpoints, by error code.",
    ["error"],
)
OAUTH_INTROSPECTIONS = Counter(
    "oauth_apps_oauth_introspections_total", "Answered token introspections."
)
