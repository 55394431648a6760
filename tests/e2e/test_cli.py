"""The ``oauth-apps`` command as an operator runs it."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import pytest
from sqlalchemy.engine import URL

from service.persistence.database import asyncpg_dsn
from tests.integration.api.test_oauth2 import (
    PASSWORD,
    Client,
    authorize_query,
    pkce,
    register,
    sign_in,
)
from tests.support.processes import (
    Completed,
    free_port,
    run_cli,
    service_env,
    start_cli,
    stop,
    wait_for_port,
)
from tests.support.waiting import eventually


async def test_migrate_creates_the_database_and_is_harmless_twice(database_url: URL) -> None:
    fresh = database_url.set(database=f"{database_url.database}_migrate")
    admin = await asyncpg.connect(asyncpg_dsn(database_url.set(database="postgres")))
    await admin.execute(f'DROP DATABASE IF EXISTS "{fresh.database}" WITH (FORCE)')
    try:
        refused = await run_cli("migrate", env=service_env(fresh))
        assert refused.returncode == 2
        assert "--create-database" in refused.stderr and len(refused.stderr.splitlines()) == 1
        first = await run_cli("migrate", "--create-database", env=service_env(fresh))
        assert first.returncode == 0, first.stderr
        assert "created and migrated" in first.stdout
        second = await run_cli("migrate", env=service_env(fresh))
        assert second.returncode == 0, second.stderr
        assert "created" not in second.stdout
        connection = await asyncpg.connect(asyncpg_dsn(fresh))
        try:
            grants = await connection.fetch("SELECT role, permission FROM role_permissions")
            names = await connection.fetch(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'oauth_apps'::regclass"
            )
        finally:
            await connection.close()
        assert {(g["role"], g["permission"]) for g in grants} == {
            ("admin", "manage-oauth-apps"),
            ("admin", "api-bypass-rate-limit"),
            ("admin", "access-permissions"),
        }
        assert {n["conname"] for n in names} == {"pk_oauth_apps", "uq_oauth_apps_client_id"}
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{fresh.database}" WITH (FORCE)')
        await admin.close()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "mysql://localhost/x"),
        ("AMQP_URL", "http://localhost"),
        ("REDIRECT_URI_POLICY", "lax"),
        ("PORT", "http"),
    ],
)
@pytest.mark.parametrize(
    "command", [("migrate",), ("serve",), ("tokens", "create", "--username", "x")]
)
async def test_bad_configuration_is_one_line_naming_the_variable(
    database_url: URL, variable: str, value: str, command: tuple[str, ...]
) -> None:
    env = service_env(database_url, PORT=str(free_port())) | {variable: value}
    result = await run_cli(*command, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command", [("migrate",), ("serve",), ("tokens", "create", "--username", "x")]
)
async def test_an_unreachable_database_is_one_line_naming_it_and_not_a_config_error(
    database_url: URL, command: tuple[str, ...]
) -> None:
    env = service_env(database_url, PORT=str(free_port()))
    env["DATABASE_URL"] = "postgresql+asyncpg://postgres@127.0.0.1:1/x"
    result = await run_cli(*command, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0] and "unavailable" in lines[0]
    assert "Traceback" not in result.stderr


async def test_users_and_tokens(database_url: URL, db: asyncpg.Connection) -> None:
    env = service_env(database_url)
    created = await run_cli(
        "users",
        "create",
        "--username",
        "ops",
        "--password-stdin",
        "--role",
        "admin",
        env=env,
        stdin="a long enough secret\n",
    )
    assert created.returncode == 0, created.stderr
    user = orjson.loads(created.stdout)
    assert user["username"] == "ops" and len(user["_id"]) == 17
    again = await run_cli(
        "users", "create", "--username", "ops", "--password", "another long one", env=env
    )
    assert again.returncode == 1 and "exists" in again.stderr

    token = orjson.loads((await run_cli("tokens", "create", "--username", "ops", env=env)).stdout)
    assert token["userId"] == user["_id"] and len(token["authToken"]) == 43
    stored = await db.fetchrow("SELECT token_hash, expires_at FROM login_tokens")
    assert stored["token_hash"] != token["authToken"] and stored["expires_at"] is None
    missing = await run_cli("tokens", "create", "--username", "ghost", env=env)
    assert missing.returncode == 1 and "ghost" in missing.stderr


async def test_a_user_created_with_a_verified_email(
    database_url: URL, db: asyncpg.Connection
) -> None:
    env = service_env(database_url)
    command = ("users", "create", "--password", "a long enough secret", "--email-verified")
    created = await run_cli(*command, "--username", "v", "--email", "v@example.test", env=env)
    assert created.returncode == 0, created.stderr
    plain = await run_cli(
        "users", "create", "--username", "p", "--password", "a long enough secret", env=env
    )
    assert plain.returncode == 0, plain.stderr
    stored = await db.fetch("SELECT username, email_verified FROM users ORDER BY username")
    assert [(row["username"], row["email_verified"]) for row in stored] == [
        ("p", False),
        ("v", True),
    ]
    nothing_to_verify = await run_cli(*command, "--username", "n", env=env)
    assert nothing_to_verify.returncode == 1 and "needs an email" in nothing_to_verify.stderr


async def test_serve_bootstraps_the_admin_and_stops_cleanly(
    database_url: URL, db: asyncpg.Connection, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(
        database_url,
        ADMIN_USERNAME="boss",
        ADMIN_PASS="hunter22-hunter22",
        ADMIN_EMAIL="boss@example.test",
    )
    log = tmp_path / "serve.log"
    process = await start_cli("serve", "--port", str(port), "--no-relay", env=env, log=log)
    try:
        await wait_for_port(port, process)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            credentials = {"user": "boss", "password": "hunter22-hunter22"}
            login = await http.post("/api/v1/login", json=credentials)
            assert login.status == 200
            me = (await login.json())["data"]["me"]
            assert me["roles"] == ["admin", "user"]
            assert me["emails"][0]["address"] == "boss@example.test"
    finally:
        status = await stop(process)
    assert status == 0, log.read_text()
    assert "hunter22" not in log.read_text()
    assert await db.fetchval("SELECT count(*) FROM users WHERE username = 'boss'") == 1

    # Started again with another ADMIN_PASS: the admin keeps its password, and says so.
    env["ADMIN_PASS"] = "a-different-password"
    again = tmp_path / "again.log"
    process = await start_cli("serve", "--port", str(port), "--no-relay", env=env, log=again)
    try:
        await wait_for_port(port, process)
    finally:
        assert await stop(process) == 0
    text = again.read_text()
    assert "ADMIN_PASS differs" in text and "a-different-password" not in text


async def test_help_is_quick() -> None:
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        result = await run_cli("--help", env=os.environ)
        timings.append(time.perf_counter() - started)
        assert result.returncode == 0 and "serve" in result.stdout
    assert min(timings) < 0.5, timings


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]])
async def test_a_port_in_use_is_one_line_naming_the_address(
    database_url: URL, workers: list[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await run_cli(
            "serve", "--port", str(port), "--no-relay", *workers, env=service_env(database_url)
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "Traceback" not in result.stderr


async def test_a_missing_or_unmigrated_database_says_to_migrate(database_url: URL) -> None:
    missing = database_url.set(database=f"{database_url.database}_typo")
    result = await run_cli("serve", "--no-relay", env=service_env(missing))
    assert result.returncode == 2
    assert "--create-database" in result.stderr and len(result.stderr.splitlines()) == 1
    admin = await asyncpg.connect(asyncpg_dsn(database_url.set(database="postgres")))
    empty = database_url.set(database=f"{database_url.database}_empty")
    await admin.execute(f'CREATE DATABASE "{empty.database}"')
    try:
        for command in (("serve", "--no-relay"), ("relay",), ("consume", "audit")):
            result = await run_cli(*command, env=service_env(empty))
            assert result.returncode == 2, result.stderr
            assert "oauth-apps migrate" in result.stderr and len(result.stderr.splitlines()) == 1
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{empty.database}" WITH (FORCE)')
        await admin.close()


async def test_wrong_broker_credentials_are_one_warning_naming_amqp_url(
    database_url: URL, tmp_path: Path
) -> None:
    env = service_env(
        database_url,
        AMQP_URL="amqp://guest:wrong-password@127.0.0.1:5672/",
        EVENTS_EXCHANGE="never-declared",
    )
    log = tmp_path / "relay.log"
    process = await start_cli("relay", env=env, log=log)
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while "AMQP_URL" not in log.read_text():
            assert asyncio.get_running_loop().time() < deadline, log.read_text()
            await asyncio.sleep(0.1)
        # Several retries happen in these seconds; none of them is logged again.
        await asyncio.sleep(3)
    finally:
        assert await stop(process) == 0
    warnings = [line for line in log.read_text().splitlines() if "relay interrupted" in line]
    assert len(warnings) == 1, warnings
    assert "wrong-password" not in log.read_text()


async def test_passwords_follow_the_policy(database_url: URL, db: asyncpg.Connection) -> None:
    env = service_env(database_url)
    short = await run_cli("users", "create", "--username", "u1", "--password", "x", env=env)
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    relaxed = await run_cli(
        "users",
        "create",
        "--username",
        "u2",
        "--password",
        "four",
        env=env | {"PASSWORD_MIN_LENGTH": "4"},
    )
    assert relaxed.returncode == 0, relaxed.stderr
    short_admin = await run_cli("serve", env=env | {"ADMIN_USERNAME": "a", "ADMIN_PASS": "short"})
    assert short_admin.returncode == 2 and "ADMIN_PASS" in short_admin.stderr
    assert "short" not in short_admin.stderr.replace("ADMIN_PASS", "")


async def test_tokens_as_shell_exports(database_url: URL, db: asyncpg.Connection) -> None:
    env = service_env(database_url)
    created = await run_cli(
        "users", "create", "--username", "shell", "--password-stdin", env=env, stdin="x" * 12
    )
    assert created.returncode == 0, created.stderr
    result = await run_cli("tokens", "create", "--username", "shell", "--format", "env", env=env)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("export USER_ID=") and lines[1].startswith("export AUTH_TOKEN=")
    assert len(lines[1].split("=", 1)[1]) == 43


async def me_status(client: Client, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/me", headers=headers)).status


async def api_login(client: Client, password: str = PASSWORD) -> dict[str, str]:
    """Log in as the admin through ``/api/v1/login``: the headers of its new login token."""
    response = await client.post("/api/v1/login", json={"user": "math.bar", "password": password})
    assert response.status == 200, await response.text()
    data = (await response.json())["data"]
    return {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}


async def refused_soon(client: Client, headers: dict[str, str]) -> None:
    """The token is refused well within the 10 s an API process may cache a caller."""

    async def refused() -> bool:
        return await me_status(client, headers) == 401

    await eventually(refused, timeout=2)


def one_line_error(result: Completed, *words: str) -> None:
    assert result.returncode == 1, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert all(word in result.stderr for word in words), result.stderr
    assert "Traceback" not in result.stderr


async def test_users_list_disable_and_enable(
    database_url: URL, client: Client, admin: dict[str, str]
) -> None:
    env = service_env(database_url)
    listed = await run_cli("users", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    (user,) = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert user.pop("created").endswith("Z")
    assert user == {
        "_id": admin["X-User-Id"],
        "username": "math.bar",
        "email": "math.bar@example.test",
        "roles": ["admin", "user"],
        "active": True,
    }
    login = await api_login(client)
    assert await me_status(client, admin) == await me_status(client, login) == 200  # now cached

    disabled = await run_cli("users", "disable", "--username", "math.bar", env=env)
    assert disabled.returncode == 0, disabled.stderr
    assert orjson.loads(disabled.stdout) == {
        "_id": admin["X-User-Id"],
        "username": "math.bar",
        "active": False,
    }
    await refused_soon(client, admin)  # a personal access token
    await refused_soon(client, login)
    credentials = {"user": "math.bar", "password": PASSWORD}
    assert (await client.post("/api/v1/login", json=credentials)).status == 401
    relisted = await run_cli("users", "list", env=env)
    assert orjson.loads(relisted.stdout)["active"] is False

    enabled = await run_cli("users", "enable", "--username", "math.bar", env=env)
    assert enabled.returncode == 0 and orjson.loads(enabled.stdout)["active"] is True
    assert await me_status(client, admin) == 200  # kept while disabled
    await api_login(client)
    for action in ("disable", "enable"):
        one_line_error(await run_cli("users", action, "--username", "ghost", env=env), "ghost")


async def test_set_password_ends_page_sessions_and_login_tokens(
    database_url: URL, client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    env = service_env(database_url)
    query = authorize_query(await register(client, admin), pkce()[1])
    assert "Allow" in await sign_in(client, query)  # the client now holds a page session
    login = await api_login(client)
    assert await me_status(client, login) == 200

    changed = await run_cli(
        "users",
        "set-password",
        "--username",
        "math.bar",
        "--password-stdin",
        env=env,
        stdin="a brand new password\n",
    )
    assert changed.returncode == 0, changed.stderr
    assert orjson.loads(changed.stdout) == {
        "_id": admin["X-User-Id"],
        "username": "math.bar",
        "endedSessions": 1,
        "revokedLoginTokens": 1,
    }
    await refused_soon(client, login)
    page = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    assert 'name="password"' in await page.text()  # the login page again, not the consent
    assert await db.fetchval("SELECT count(*) FROM web_sessions") == 0
    assert await me_status(client, admin) == 200  # the personal access token is kept
    old = await client.post("/api/v1/login", json={"user": "math.bar", "password": PASSWORD})
    assert old.status == 401
    await api_login(client, "a brand new password")

    short = await run_cli(
        "users", "set-password", "--username", "math.bar", "--password-stdin", env=env, stdin="x"
    )
    one_line_error(short, "at least 12 characters")
    ghost = await run_cli(
        "users", "set-password", "--username", "ghost", env=env, stdin="long enough password"
    )
    one_line_error(ghost, "ghost")


async def test_tokens_list_and_revoke(
    database_url: URL, client: Client, admin: dict[str, str], db: asyncpg.Connection
) -> None:
    env = service_env(database_url)
    login = await api_login(client)
    second = orjson.loads(
        (await run_cli("tokens", "create", "--username", "math.bar", env=env)).stdout
    )
    personal = {"X-User-Id": second["userId"], "X-Auth-Token": second["authToken"]}

    listed = await run_cli("tokens", "list", "--username", "math.bar", env=env)
    assert listed.returncode == 0, listed.stderr
    tokens = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert [token["kind"] for token in tokens] == ["personal", "login", "personal"]
    assert all(re.fullmatch(r"[0-9a-f]{16}", token["id"]) for token in tokens)
    assert [token["expires"] is None for token in tokens] == [True, False, True]
    assert all(token["created"].endswith("Z") for token in tokens)
    hashes = [row["token_hash"] for row in await db.fetch("SELECT token_hash FROM login_tokens")]
    for secret in [*hashes, admin["X-Auth-Token"], login["X-Auth-Token"], second["authToken"]]:
        assert secret not in listed.stdout

    unknown = await run_cli(
        "tokens", "revoke", "--username", "math.bar", "--id", tokens[1]["id"], "0" * 16, env=env
    )
    one_line_error(unknown, "0" * 16, "nothing revoked")
    assert await db.fetchval("SELECT count(*) FROM login_tokens") == 3

    one = await run_cli(
        "tokens", "revoke", "--username", "math.bar", "--id", tokens[1]["id"], env=env
    )
    assert orjson.loads(one.stdout) == {"username": "math.bar", "revoked": 1}
    await refused_soon(client, login)
    assert await me_status(client, admin) == await me_status(client, personal) == 200

    kind = await run_cli(
        "tokens", "revoke", "--username", "math.bar", "--kind", "personal", env=env
    )
    assert orjson.loads(kind.stdout)["revoked"] == 2
    await refused_soon(client, admin)
    await refused_soon(client, personal)
    await api_login(client)
    everything = await run_cli("tokens", "revoke", "--username", "math.bar", "--all", env=env)
    assert orjson.loads(everything.stdout)["revoked"] == 1
    empty = await run_cli("tokens", "list", "--username", "math.bar", env=env)
    assert empty.returncode == 0 and empty.stdout == ""
    for command in (("list",), ("revoke", "--all")):
        one_line_error(await run_cli("tokens", *command, "--username", "ghost", env=env), "ghost")
