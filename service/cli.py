"""The ``oauth-apps`` command: every subcommand of the README's command table.

Imports are made where a command needs them, so that ``--help`` and the short
commands start without loading the server, the broker client or SQLAlchemy.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from service.domain.accounts import TOKEN_KINDS
from service.events.topology import consumer_names

if TYPE_CHECKING:
    from service.config import Settings
    from service.domain.accounts import Actor
    from service.persistence.database import Database

T = TypeVar("T")

READ_STDIN_HELP = "read the password from standard input (default: a prompt)"

# The actor ``_id`` of changes made with this command (a key rotation): never a user's id.
CLI_ACTOR_ID = "oauth-apps-cli"


def build_parser() -> argparse.ArgumentParser:
    """Describe every subcommand."""
    parser = argparse.ArgumentParser(prog="oauth-apps", description="OAuth apps service")
    commands = parser.add_subparsers(dest="command", required=True)

    migrate = commands.add_parser("migrate", help="upgrade the database to the newest schema")
    migrate.add_argument(
        "--create-database",
        action="store_true",
        help="create the database named in DATABASE_URL when it does not exist",
    )

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", help="address to bind (HOST)")
    serve.add_argument("--port", help="port to bind (PORT)")
    serve.add_argument(
        "--workers",
        type=int,
        help="processes sharing the port (default: WEB_CONCURRENCY, else the usable cores,"
        " as many as DATABASE_CONNECTIONS serves)",
    )
    serve.add_argument(
        "--no-relay", action="store_true", help="do not run the outbox relay in this process"
    )

    keys = commands.add_parser("keys", help="the keys that sign ID tokens").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("list", help="print each key's kid, algorithm, state and dates (JSON lines)")
    rotate = keys.add_parser("rotate", help="make a new current key; the previous one verifies")
    rotate.add_argument("--algorithm", choices=["RS256", "ES256"], default="RS256")

    commands.add_parser("relay", help="run the outbox relay alone")
    commands.add_parser("asyncapi", help="print the AsyncAPI document of the events")

    consume = commands.add_parser("consume", help="run a downstream consumer")
    consume.add_argument("consumer", choices=consumer_names())

    dlq = commands.add_parser("dlq", help="dead-letter queues").add_subparsers(
        dest="action", required=True
    )
    dlq_list = dlq.add_parser("list", help="print dead letters and why (JSON lines)")
    dlq_list.add_argument("consumer", choices=consumer_names())
    dlq_list.add_argument("--limit", type=int, default=100)
    dlq_replay = dlq.add_parser("replay", help="move dead letters back onto the live queue")
    dlq_replay.add_argument("consumer", choices=consumer_names())
    dlq_replay.add_argument("--ids", nargs="+", help="message ids (default: all)")
    dlq_replay.add_argument("--limit", type=int, default=10_000)

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
    password = create_user.add_mutually_exclusive_group()
    password.add_argument("--password", help="visible in the process list: prefer the others")
    password.add_argument("--password-stdin", action="store_true", help=READ_STDIN_HELP)
    create_user.add_argument("--email")
    create_user.add_argument(
        "--email-verified",
        action="store_true",
        help="the address is known to be the user's (userinfo and ID tokens say so)",
    )
    create_user.add_argument(
        "--role", action="append", dest="roles", help="a role to grant (repeatable; default user)"
    )
    users.add_parser("list", help="print every user as a JSON line")
    for action, does in (
        ("disable", "refuse the user's logins and every token it holds, at once"),
        ("enable", "let a disabled user log in again"),
    ):
        users.add_parser(action, help=does).add_argument("--username", required=True)
    set_password = users.add_parser(
        "set-password", help="a new password; ends the user's page sessions and login tokens"
    )
    set_password.add_argument("--username", required=True)
    set_password.add_argument("--password-stdin", action="store_true", help=READ_STDIN_HELP)

    tokens = commands.add_parser("tokens", help="manage tokens").add_subparsers(
        dest="action", required=True
    )
    create_token = tokens.add_parser("create", help="issue a personal access token")
    create_token.add_argument("--username", required=True)
    create_token.add_argument(
        "--format",
        choices=["json", "env"],
        default="json",
        help="env: shell lines that export USER_ID and AUTH_TOKEN",
    )
    list_tokens = tokens.add_parser(
        "list", help="print the user's live tokens (id, kind, dates) as JSON lines"
    )
    list_tokens.add_argument("--username", required=True)
    revoke = tokens.add_parser("revoke", help="revoke some or all of the user's tokens")
    revoke.add_argument("--username", required=True)
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", nargs="+", dest="ids", help="ids that `tokens list` printed")
    which.add_argument("--kind", choices=TOKEN_KINDS, help="every token of this kind")
    which.add_argument("--all", action="store_true", help="every token")

    registration_tokens = commands.add_parser(
        "registration-tokens", help="initial access tokens of POST /oauth/register"
    ).add_subparsers(dest="action", required=True)
    create_registration_token = registration_tokens.add_parser(
        "create", help="print a new initial access token (OAUTH_REGISTRATION=token)"
    )
    create_registration_token.add_argument(
        "--expires-in", type=_positive, metavar="S", help="seconds it lives (default: no end)"
    )
    create_registration_token.add_argument(
        "--uses", type=_positive, metavar="N", help="clients it may register (default: any)"
    )
    return parser


def _positive(raw: str) -> int:
    """A positive whole number, for a flag."""
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a positive whole number")
    return int(raw)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; configuration errors end it with one line and status 2."""
    args = build_parser().parse_args(argv)
    from service.config import ConfigError, DependencyUnavailable, Settings, report_startup_error
    from service.domain.errors import AccountError
    from service.logs import configure_logging

    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        return _dispatch(args, settings)
    except (ConfigError, DependencyUnavailable) as error:
        return report_startup_error(error)
    except AccountError as error:
        print(f"oauth-apps: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command in ("migrate", "serve", "keys"):
        settings.require_secret_key()  # before any work: they sign or decrypt
    if args.command == "migrate":
        return _migrate(args, settings)
    if args.command == "keys":
        return _keys(args, settings)
    if args.command in ("serve", "relay", "consume"):
        return _run_process(args, settings)
    if args.command == "asyncapi":
        import orjson

        from service.events.asyncapi import asyncapi_document

        sys.stdout.write(
            orjson.dumps(asyncapi_document(), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return 0
    if args.command == "dlq":
        return _dead_letters(args, settings)
    return _accounts_and_audit(args, settings)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from service.persistence.migrations import migrate
    from service.usecases.oauth2.keys import KeySeal, ensure_first_key

    created = migrate(settings.database_url, create=args.create_database)
    verb = "created and migrated" if created else "migrated"
    print(f"database {settings.database_url.database!r} {verb}")
    seal = KeySeal(settings.require_secret_key())
    key = _with_database(settings, lambda db: ensure_first_key(db, seal))
    if key is not None:
        print(f"signing key {key.kid} ({key.algorithm.value}) made")
    return 0


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from service.domain.oauth2.keys import SigningAlgorithm
    from service.domain.timestamps import utc_now
    from service.usecases.oauth2.keys import KeySeal, list_keys, rotate_keys

    if args.action == "list":
        now = utc_now()
        for key in _with_database(settings, list_keys):
            _print_json(key.to_listing(now))
        return 0
    seal = KeySeal(settings.require_secret_key())
    rotated = _with_database(
        settings,
        lambda db: rotate_keys(
            db,
            seal,
            SigningAlgorithm(args.algorithm),
            actor=_operator(),
            id_token_lifetime=timedelta(seconds=settings.id_token_lifetime),
        ),
    )
    _print_json(rotated.to_listing(utc_now()))
    return 0


def _operator() -> Actor:
    """Who a command-line change is by, as events cite it: no chat user is logged in.

    The ``_id`` says where the change came from, the ``username`` is the account of
    the operating system that ran the command (``unknown`` when it has no name).
    """
    from service.domain.accounts import Actor

    try:
        account = getpass.getuser()
    except (OSError, KeyError):  # a container's user id with no passwd entry
        account = "unknown"
    return Actor(id=CLI_ACTOR_ID, username=account)


def _run_process(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from service import bootstrap
    from service.config import ConfigError, api_pool_share, parse_port
    from service.loop import run
    from service.serve import relay_until_stopped, run_until_stopped, serve_http, serve_workers

    if args.command == "serve":
        if args.host:
            settings = replace(settings, host=args.host)
        if args.port:
            settings = replace(settings, port=parse_port(args.port, "--port"))
        with_relay = not args.no_relay
        if args.workers is None:
            args.workers = default_workers(settings, with_relay)
        if args.workers < 1:
            raise ConfigError("--workers", "must be at least 1")
        pool_size = api_pool_share(settings.database_connections, args.workers, with_relay)
        settings = replace(settings, api_pool_size=pool_size)
        if args.workers > 1:
            # Checked once here, so that a database that is down or not migrated (or a
            # SECRET_KEY that opens no key) is one line, not one per worker.
            run(lambda: _database_ready(settings))
            return serve_workers(settings, with_relay, args.workers)
        run(lambda: serve_http(settings, with_relay))
        return 0
    if settings.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.host)
    if args.command == "relay":
        run(lambda: relay_until_stopped(settings))
        return 0
    run(
        lambda: run_until_stopped(
            lambda stop: bootstrap.run_consumer(settings, args.consumer, stop)
        )
    )
    return 0


async def _database_ready(settings: Settings) -> None:
    from service import bootstrap

    async with (
        bootstrap.database(settings, pool_size=1) as opened,
        bootstrap.key_ring(settings, opened),
    ):
        pass


def default_workers(settings: Settings, with_relay: bool) -> int:
    """``WEB_CONCURRENCY``, else a worker per usable core, as many as the connections allow."""
    import os

    from service.config import ConfigError, most_workers

    raw = os.environ.get("WEB_CONCURRENCY", "")
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError("WEB_CONCURRENCY", f"{raw!r} is not a positive integer")
        return int(raw)
    cores = max(1, len(os.sched_getaffinity(0)))
    return min(cores, most_workers(settings.database_connections, with_relay))


def _accounts_and_audit(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "audit":
        entries = _with_database(settings, lambda db: _newest_audit_entries(db, args.limit))
        for entry in entries:
            _print_json(entry)
        return 0
    if args.command == "users":
        return _users(args, settings)
    if args.command == "tokens":
        return _tokens(args, settings)
    if args.command == "registration-tokens":
        from service.usecases.oauth2.client_registration import create_initial_access_token

        # The token alone on its line, for TOKEN=$(oauth-apps registration-tokens create).
        print(
            _with_database(
                settings,
                lambda db: create_initial_access_token(
                    db, expires_in=args.expires_in, uses=args.uses
                ),
            )
        )
        return 0
    raise AssertionError(f"unhandled command {args.command}")


def _users(args: argparse.Namespace, settings: Settings) -> int:
    from service.usecases import accounts

    if args.action == "list":
        for user in _with_database(settings, accounts.list_users):
            _print_json(user.to_listing())
        return 0
    if args.action in ("disable", "enable"):
        active = args.action == "enable"
        user_id = _with_database(
            settings, lambda db: accounts.set_user_active(db, args.username, active)
        )
        _print_json({"_id": user_id, "username": args.username, "active": active})
        return 0
    if args.action == "set-password":
        new_password = _password(None, from_stdin=args.password_stdin)
        changed = _with_database(
            settings,
            lambda db: accounts.set_password(
                db,
                args.username,
                new_password,
                min_password_length=settings.password_min_length,
            ),
        )
        _print_json(
            {
                "_id": changed.user_id,
                "username": args.username,
                "endedSessions": changed.ended_sessions,
                "revokedLoginTokens": changed.revoked_login_tokens,
            }
        )
        return 0
    roles = tuple(args.roles or ["user"])
    password = _password(args.password, from_stdin=args.password_stdin)
    profile = _with_database(
        settings,
        lambda db: accounts.create_user(
            db,
            args.username,
            password,
            email=args.email,
            email_verified=args.email_verified,
            roles=roles,
            min_password_length=settings.password_min_length,
        ),
    )
    _print_json({"_id": profile.id, "username": profile.username, "roles": list(profile.roles)})
    return 0


def _tokens(args: argparse.Namespace, settings: Settings) -> int:
    from service.usecases import accounts

    if args.action == "list":
        for listing in _with_database(settings, lambda db: accounts.list_tokens(db, args.username)):
            _print_json(listing.to_listing())
        return 0
    if args.action == "revoke":
        ids = frozenset(args.ids) if args.ids else None
        revoked = _with_database(
            settings,
            lambda db: accounts.revoke_tokens(db, args.username, ids=ids, kind=args.kind),
        )
        _print_json({"username": args.username, "revoked": revoked})
        return 0
    token = _with_database(settings, lambda db: accounts.create_personal_token(db, args.username))
    if args.format == "env":
        # Shell-quoted by construction: ids and tokens use URL-safe characters only.
        print(f"export USER_ID={token.user_id}\nexport AUTH_TOKEN={token.auth_token}")
    else:
        _print_json({"userId": token.user_id, "authToken": token.auth_token})
    return 0


def _password(given: str | None, *, from_stdin: bool) -> str:
    """The password: from the flag, standard input, or a prompt."""
    if given is not None:
        return given
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != first:
        from service.domain.errors import AccountError

        raise AccountError("the passwords differ")
    return first


def _dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    from service import bootstrap
    from service.events import dead_letters
    from service.loop import run

    spec = bootstrap.topology(settings).queue(args.consumer)
    broker = bootstrap.broker(settings)
    limit = max(1, args.limit)
    if args.action == "list":
        for letter in run(lambda: dead_letters.list_dead_letters(broker, spec, limit)):
            _print_json(letter.to_document())
        return 0
    ids = set(args.ids) if args.ids else None
    replayed = run(lambda: dead_letters.replay_dead_letters(broker, spec, ids, limit))
    _print_json({"replayed": replayed, "queue": spec.name})
    return 0


def _with_database(settings: Settings, use: Callable[[Database], Awaitable[T]]) -> T:
    from service import bootstrap
    from service.loop import run

    async def body() -> T:
        async with bootstrap.database(settings, pool_size=1) as database:
            return await use(database)

    return run(body)


async def _newest_audit_entries(database: Database, limit: int) -> list[dict[str, object]]:
    from service.persistence import audit_log

    async with database.sessions() as session:
        return await audit_log.newest_entries(session, max(1, limit))


def _print_json(value: object) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(value).decode() + "\n")
