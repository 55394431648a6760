"""The ``oauth-apps`` command as an operator runs it."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import asyncpg
import orjson
import pytest
from sqlalchemy.engine import URL

from service.persistence.database import asyncpg_dsn
from tests.support.processes import free_port, run_cli, service_env, start_cli, stop, wait_for_port


async def test_migrate_creates_the_database_and_is_harmless_twice(database_url: URL) -> None:
    fresh = database_url.set(database=f"{database_url.database}_migrate")
    admin = await asyncpg.connect(asyncpg_dsn(database_url.set(database="postgres")))
    await admin.execute(f'DROP DATABASE IF EXISTS "{fresh.database}" WITH (FORCE)')
    try:
        first = await run_cli("migrate", env=service_env(fresh))
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
        "users", "create", "--username", "ops", "--password", "pw", "--role", "admin", env=env
    )
    assert created.returncode == 0, created.stderr
    user = orjson.loads(created.stdout)
    assert user["username"] == "ops" and len(user["_id"]) == 17
    again = await run_cli("users", "create", "--username", "ops", "--password", "pw", env=env)
    assert again.returncode == 1 and "exists" in again.stderr

    token = orjson.loads((await run_cli("tokens", "create", "--username", "ops", env=env)).stdout)
    assert token["userId"] == user["_id"] and len(token["authToken"]) == 43
    stored = await db.fetchrow("SELECT token_hash, expires_at FROM login_tokens")
    assert stored["token_hash"] != token["authToken"] and stored["expires_at"] is None
    missing = await run_cli("tokens", "create", "--username", "ghost", env=env)
    assert missing.returncode == 1 and "ghost" in missing.stderr


async def test_serve_bootstraps_the_admin_and_stops_cleanly(
    database_url: URL, db: asyncpg.Connection, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(
        database_url, ADMIN_USERNAME="boss", ADMIN_PASS="hunter22", ADMIN_EMAIL="boss@example.test"
    )
    log = tmp_path / "serve.log"
    process = await start_cli("serve", "--port", str(port), "--no-relay", env=env, log=log)
    try:
        await wait_for_port(port, process)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            login = await http.post("/api/v1/login", json={"user": "boss", "password": "hunter22"})
            assert login.status == 200
            me = (await login.json())["data"]["me"]
            assert me["roles"] == ["admin", "user"]
            assert me["emails"][0]["address"] == "boss@example.test"
    finally:
        status = await stop(process)
    assert status == 0, log.read_text()
    assert "hunter22" not in log.read_text()
    assert await db.fetchval("SELECT count(*) FROM users WHERE username = 'boss'") == 1
