"""The ``oauth-apps`` command (SPEC section 2)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TypeVar

import orjson
from prometheus_client import start_http_server

from service.config import ConfigError, Settings, parse_port, report_config_error
from service.events.workers import audit_entries, consume
from service.logs import configure_logging
from service.operations import accounts
from service.operations.accounts import AccountError
from service.persistence.database import Database, check_connection
from service.persistence.migrations import migrate
from service.serve import (
    relay_until_stopped,
    run,
    run_until_stopped,
    serve_http,
    serve_workers,
)

T = TypeVar("T")


def build_parser() -> argparse.ArgumentParser:
    """Describe every subcommand."""
    parser = argparse.ArgumentParser(prog="oauth-apps", description="OAuth apps service")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("migrate", help="create the database if missing, upgrade to head")

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", help="address to bind (HOST)")
    serve.add_argument("--port", help="port to bind (PORT)")
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    serve.add_argument(
        "--no-relay", action="store_true", help="do not run the outbox relay in this process"
    )

    commands.add_parser("relay", help="run the outbox relay alone")

    consume = commands.add_parser("consume", help="run a downstream consumer")
    consume.add_argument("consumer", choices=["audit", "notification"])

    audit = commands.add_parser("audit", help="read the audit log").add_subparsers(
        dest="action", required=True
    )
    audit_list = audit.add_parser("list", help="print the newest entries as JSON lines")
    audit_list.add_argument("--limit", type=int, default=20)

    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="action", required=True
    )
    create_user = users.add_parser("create", help="create a user, print it as JSON")
    create_user.add_argument("--username", required=True)
    create_user.add_argument("--password", required=True)
    create_user.add_argument("--email")
    create_user.add_argument(
        "--role", action="append", dest="roles", help="a role to grant (repeatable; default user)"
    )

    tokens = commands.add_parser("tokens", help="manage tokens").add_subparsers(
        dest="action", required=True
    )
    create_token = tokens.add_parser("create", help="issue a personal access token")
    create_token.add_argument("--username", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; configuration errors end it with one line and status 2."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        return _dispatch(args, settings)
    except ConfigError as error:
        report_config_error(error)
        return 2
    except AccountError as error:
        print(f"oauth-apps: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "migrate":
        created = migrate(settings.database_url)
        verb = "created and migrated" if created else "migrated"
        print(f"database {settings.database_url.database!r} {verb}")
        return 0
    if args.command == "serve":
        if args.host:
            settings = replace(settings, host=args.host)
        if args.port:
            settings = replace(settings, port=parse_port(args.port, "--port"))
        if args.workers < 1:
            raise ConfigError("--workers", "must be at least 1")
        with_relay = not args.no_relay
        if args.workers > 1:
            return serve_workers(settings, with_relay, args.workers)
        run(lambda: serve_http(settings, with_relay))
        return 0
    if args.command in ("relay", "consume") and settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.host)
    if args.command == "relay":
        run(lambda: relay_until_stopped(settings))
        return 0
    if args.command == "consume":
        run(lambda: run_until_stopped(lambda stop: consume(settings, args.consumer, stop)))
        return 0
    if args.command == "audit":
        entries = _with_database(
            settings, lambda db: audit_entries(db.sessions, max(1, args.limit))
        )
        for entry in entries:
            _print_json(entry)
        return 0
    if args.command == "users":
        roles = tuple(args.roles or ["user"])
        profile = _with_database(
            settings,
            lambda db: accounts.create_user(db, args.username, args.password, args.email, roles),
        )
        _print_json({"_id": profile.id, "username": profile.username, "roles": list(profile.roles)})
        return 0
    if args.command == "tokens":
        token = _with_database(
            settings, lambda db: accounts.create_personal_token(db, args.username)
        )
        _print_json({"userId": token.user_id, "authToken": token.auth_token})
        return 0
    raise AssertionError(f"unhandled command {args.command}")


def _with_database(settings: Settings, use: Callable[[Database], Awaitable[T]]) -> T:
    async def body() -> T:
        database = Database.connect(settings.database_url, pool_size=1)
        try:
            await check_connection(database.engine)
            return await use(database)
        finally:
            await database.dispose()

    return run(body)


def _print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value).decode() + "\n")
