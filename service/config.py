"""Configuration from the environment (README, "Configuration"); flags override in the CLI."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from yarl import URL as YarlURL

from service.domain.oauth2.pkce import PkceMode
from service.domain.oauth2.registration import RegistrationMode
from service.domain.passwords import DEFAULT_MIN_LENGTH, password_problem
from service.domain.redirect_uris import RedirectUriPolicy
from service.logs import redact

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres:postgres@localhost:5432/oauth_apps"
DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/"
# One serve's PostgreSQL connections, all its workers and its relay together: with a
# relay process and both consumers, 45 of PostgreSQL's default max_connections of 100.
DEFAULT_DATABASE_CONNECTIONS = 40
# An API process never needs more (docs/operations.md, "Connection budget").
API_POOL_MAX = 20
# SECRET_KEY is the root of the signing keys' encryption: as long as the shortest
# secret the service makes (secrets.token_urlsafe(32) has 43 characters).
SECRET_KEY_MIN_LENGTH = 32


class ConfigError(Exception):
    """Configuration that cannot work; reported as one line naming the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class DependencyUnavailable(Exception):
    """A server the command needs (PostgreSQL) cannot be reached at start-up."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


# Exit statuses: bad configuration is the operator's to fix; an outage may pass by itself.
EXIT_CONFIG_ERROR = 2
EXIT_UNAVAILABLE = 1


def report_startup_error(error: ConfigError | DependencyUnavailable) -> int:
    """Print the one-line report of an error that stops a command; return its exit status.

    Redacted like every log line: the report may quote a URL with its password.
    """
    if isinstance(error, ConfigError):
        print(f"oauth-apps: configuration error: {redact(str(error))}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    print(f"oauth-apps: unavailable: {redact(str(error))}", file=sys.stderr)
    return EXIT_UNAVAILABLE


@dataclass(frozen=True)
class AdminBootstrap:
    """The admin user that ``serve`` creates at start-up when it is missing."""

    username: str
    password: str
    email: str | None


@dataclass(frozen=True)
class Settings:
    """Every setting of every command, parsed and checked once."""

    database_url: URL
    amqp_url: str
    database_connections: int = DEFAULT_DATABASE_CONNECTIONS
    api_pool_size: int = API_POOL_MAX  # each API process's pool: serve sets its share
    host: str = "127.0.0.1"
    port: int = 3000
    events_exchange: str = "oauth_apps"
    admin: AdminBootstrap | None = None
    notify_webhook_url: str | None = None
    notify_max_attempts: int = 5
    relay_batch_size: int = 500
    relay_leadership_timeout: float = 10.0  # a relay that cannot publish this long steps down
    metrics_port: int | None = None  # relay and consumers serve /metrics here when set
    rate_limit_calls: int = 10  # 0 switches the limiter off
    rate_limit_interval: float = 60.0
    redirect_uri_policy: RedirectUriPolicy = RedirectUriPolicy.RFC6749
    log_level: str = "INFO"
    trusted_proxies: tuple[IPNetwork, ...] = ()
    http_header_timeout: float = 10.0
    http_body_timeout: float = 30.0
    http_keepalive_timeout: float = 75.0
    http_max_connections: int = 0  # 0: below the process's file-descriptor limit
    password_min_length: int = DEFAULT_MIN_LENGTH
    public_url: str = ""  # the issuer; "" means http://HOST:PORT
    oauth_pkce: PkceMode = PkceMode.REQUIRED
    oauth_registration: RegistrationMode = RegistrationMode.OFF
    id_token_lifetime: int = 3600  # seconds
    secret_key: str = field(default="", repr=False)  # "": unset, see require_secret_key

    def require_secret_key(self) -> str:
        """``SECRET_KEY``, which every command that signs or decrypts needs."""
        if not self.secret_key:
            raise ConfigError(
                "SECRET_KEY",
                "is not set; serve, migrate and keys need it to encrypt and decrypt the"
                ' signing keys (docs/operations.md, "Signing keys")',
            )
        return self.secret_key

    @property
    def issuer(self) -> str:
        """``PUBLIC_URL``, from which every absolute URL the service shows is built."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment; raise ``ConfigError`` on the first problem."""
        env = os.environ if env is None else env
        admin_username, admin_password = env.get("ADMIN_USERNAME"), env.get("ADMIN_PASS")
        if bool(admin_username) != bool(admin_password):
            raise ConfigError(
                "ADMIN_USERNAME", "ADMIN_USERNAME and ADMIN_PASS must be set together"
            )
        min_length = _parse_positive_int(
            "PASSWORD_MIN_LENGTH", env.get("PASSWORD_MIN_LENGTH", str(DEFAULT_MIN_LENGTH))
        )
        if admin_password and (problem := password_problem(admin_password, min_length)):
            raise ConfigError("ADMIN_PASS", problem)  # never the value itself
        admin = (
            AdminBootstrap(admin_username, admin_password, env.get("ADMIN_EMAIL") or None)
            if admin_username and admin_password
            else None
        )
        webhook = env.get("NOTIFY_WEBHOOK_URL") or None
        if webhook is not None:
            _parse_http_url("NOTIFY_WEBHOOK_URL", webhook)
        return cls(
            database_url=parse_database_url(env.get("DATABASE_URL", DEFAULT_DATABASE_URL)),
            database_connections=_parse_positive_int(
                "DATABASE_CONNECTIONS",
                env.get("DATABASE_CONNECTIONS", str(DEFAULT_DATABASE_CONNECTIONS)),
            ),
            amqp_url=_parse_amqp_url(env.get("AMQP_URL", DEFAULT_AMQP_URL)),
            host=env.get("HOST", "127.0.0.1"),
            port=parse_port(env.get("PORT", "3000"), "PORT"),
            events_exchange=env.get("EVENTS_EXCHANGE", "oauth_apps") or "oauth_apps",
            admin=admin,
            notify_webhook_url=webhook,
            notify_max_attempts=_parse_positive_int(
                "NOTIFY_MAX_ATTEMPTS", env.get("NOTIFY_MAX_ATTEMPTS", "5")
            ),
            metrics_port=parse_port(env["METRICS_PORT"], "METRICS_PORT")
            if env.get("METRICS_PORT")
            else None,
            rate_limit_calls=_parse_count("RATE_LIMIT_CALLS", env.get("RATE_LIMIT_CALLS", "10")),
            rate_limit_interval=_parse_positive_int(
                "RATE_LIMIT_INTERVAL_SECONDS", env.get("RATE_LIMIT_INTERVAL_SECONDS", "60")
            ),
            relay_batch_size=_parse_positive_int(
                "RELAY_BATCH_SIZE", env.get("RELAY_BATCH_SIZE", "500")
            ),
            relay_leadership_timeout=_parse_positive_int(
                "RELAY_LEADERSHIP_TIMEOUT_SECONDS",
                env.get("RELAY_LEADERSHIP_TIMEOUT_SECONDS", "10"),
            ),
            redirect_uri_policy=_parse_choice(
                "REDIRECT_URI_POLICY", env.get("REDIRECT_URI_POLICY", "rfc6749"), RedirectUriPolicy
            ),
            log_level=_parse_log_level(env.get("LOG_LEVEL", "INFO")),
            trusted_proxies=_parse_networks("TRUSTED_PROXIES", env.get("TRUSTED_PROXIES", "")),
            http_header_timeout=_parse_seconds(env, "HTTP_HEADER_TIMEOUT_SECONDS", "10"),
            http_body_timeout=_parse_seconds(env, "HTTP_BODY_TIMEOUT_SECONDS", "30"),
            http_keepalive_timeout=_parse_seconds(env, "HTTP_KEEPALIVE_TIMEOUT_SECONDS", "75"),
            password_min_length=min_length,
            public_url=_parse_public_url(env.get("PUBLIC_URL", "")),
            oauth_pkce=_parse_choice("OAUTH_PKCE", env.get("OAUTH_PKCE", "required"), PkceMode),
            oauth_registration=_parse_choice(
                "OAUTH_REGISTRATION", env.get("OAUTH_REGISTRATION", "off"), RegistrationMode
            ),
            http_max_connections=_parse_count(
                "HTTP_MAX_CONNECTIONS", env.get("HTTP_MAX_CONNECTIONS", "0")
            ),
            id_token_lifetime=_parse_positive_int(
                "ID_TOKEN_LIFETIME_SECONDS", env.get("ID_TOKEN_LIFETIME_SECONDS", "3600")
            ),
            secret_key=_parse_secret_key(env.get("SECRET_KEY", "")),
        )


def api_pool_share(connections: int, workers: int, with_relay: bool) -> int:
    """The pool of each of ``workers`` API processes when they share ``connections``.

    Each process holds its pool and one dedicated session (notifications, idempotency
    ownership); the relay, a thread of the one process or a process of its own, one.
    """
    share = (connections - with_relay) // workers - 1
    if share < 1:
        raise ConfigError(
            "DATABASE_CONNECTIONS",
            f"{connections} connections cannot serve {workers} workers (2 each,"
            f" {int(with_relay)} for the relay): raise it, or lower --workers or WEB_CONCURRENCY",
        )
    return min(share, API_POOL_MAX)


def most_workers(connections: int, with_relay: bool) -> int:
    """The most API processes that ``connections`` can serve: a pool of one each."""
    return max(1, (connections - with_relay) // 2)


# user:password@h1:p1,h2:p2/database?query: libpq's (and asyncpg's) multi-host form.
_COMMA_HOSTS = re.compile(
    r"^(?P<scheme>[^:]+://)(?P<auth>[^@/]*@)?(?P<hosts>[^/?]+,[^/?]+)(?P<rest>.*)$"
)


def _repeated_hosts(raw: str) -> str:
    """Turn the comma form into SQLAlchemy's repeated ``?host=`` form (same meaning)."""
    match = _COMMA_HOSTS.match(raw)
    if match is None:
        return raw
    path, _, query = match["rest"].partition("?")
    hosts = "&".join(f"host={host}" for host in match["hosts"].split(","))
    return f"{match['scheme']}{match['auth'] or ''}{path}?{hosts}" + (f"&{query}" if query else "")


def parse_database_url(raw: str) -> URL:
    """Parse ``DATABASE_URL``; only PostgreSQL through asyncpg is supported.

    Several hosts may be named (a primary and its standbys), as ``?host=h1:5432&host=
    h2:5432`` or as ``h1:5432,h2:5432``, usually with ``target_session_attrs=read-write``.
    """
    try:
        url = make_url(_repeated_hosts(raw))
    except (ArgumentError, ValueError):
        raise ConfigError("DATABASE_URL", f"cannot parse {raw!r} as a database URL") from None
    if url.get_backend_name() != "postgresql":
        raise ConfigError("DATABASE_URL", f"expected a postgresql URL, got {url.drivername!r}")
    if url.get_driver_name() != "asyncpg":
        url = url.set(drivername="postgresql+asyncpg")
    if not url.database:
        raise ConfigError("DATABASE_URL", "the URL names no database")
    return url


def parse_port(raw: str, variable: str) -> int:
    """Parse a TCP port number."""
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(variable, f"{raw!r} is not a TCP port number")
    return int(raw)


def _parse_count(variable: str, raw: str) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise ConfigError(variable, f"{raw!r} is not a non-negative integer")
    return int(raw)


def _parse_positive_int(variable: str, raw: str) -> int:
    if _parse_count(variable, raw) < 1:
        raise ConfigError(variable, f"{raw!r} is not a positive integer")
    return int(raw)


def _parse_amqp_url(raw: str) -> str:
    """One URL, or a comma-separated list: one per node of a RabbitMQ cluster."""
    for one in raw.split(","):
        try:
            url = YarlURL(one.strip())
        except (ValueError, TypeError):
            raise ConfigError("AMQP_URL", f"cannot parse {one!r} as a URL") from None
        if url.scheme not in {"amqp", "amqps"} or not url.host:
            raise ConfigError("AMQP_URL", f"expected amqp://host[:port]/vhost, got {one!r}")
    return raw


def _parse_http_url(variable: str, raw: str) -> None:
    try:
        url = YarlURL(raw)
    except (ValueError, TypeError):
        raise ConfigError(variable, f"cannot parse {raw!r} as a URL") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ConfigError(variable, f"expected an http(s) URL, got {raw!r}")


def _parse_public_url(raw: str) -> str:
    if not raw:
        return ""
    _parse_http_url("PUBLIC_URL", raw)
    return raw.rstrip("/")


Choice = TypeVar("Choice", RedirectUriPolicy, PkceMode, RegistrationMode)


def _parse_choice(variable: str, raw: str, choices: type[Choice]) -> Choice:
    try:
        return choices(raw)
    except ValueError:
        allowed = ", ".join(choice.value for choice in choices)
        raise ConfigError(variable, f"{raw!r} is not one of {allowed}") from None


def _parse_seconds(env: Mapping[str, str], variable: str, default: str) -> float:
    raw = env.get(variable, default)
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(variable, f"{raw!r} is not a number of seconds") from None
    if not 0 < seconds < 86_400:
        raise ConfigError(variable, f"{raw!r} is not between 0 and 86400 seconds")
    return seconds


def _parse_networks(variable: str, raw: str) -> tuple[IPNetwork, ...]:
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in raw.split(",")
            if part.strip()
        )
    except ValueError as error:
        raise ConfigError(
            variable, f"{raw!r} is not a list of addresses or networks: {error}"
        ) from None


def _parse_secret_key(raw: str) -> str:
    if raw and len(raw) < SECRET_KEY_MIN_LENGTH:
        # Never the value itself, nor part of it.
        raise ConfigError(
            "SECRET_KEY",
            f"is {len(raw)} characters long, fewer than {SECRET_KEY_MIN_LENGTH}: make one with"
            " python3 -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    return raw


def _parse_log_level(raw: str) -> str:
    level = raw.upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError("LOG_LEVEL", f"{raw!r} is not a log level")
    return level
