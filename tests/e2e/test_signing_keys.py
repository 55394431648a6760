"""Signing keys as an operator handles them: the CLI, several processes, SECRET_KEY."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from sqlalchemy.engine import URL

from tests.e2e.test_asyncapi import payload_validator
from tests.support.broker import Observer
from tests.support.processes import Stack, free_port, run_cli, service_env
from tests.support.waiting import eventually

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


async def served_kids(http: aiohttp.ClientSession, base: str) -> list[str]:
    async with http.get(f"{base}/oauth/jwks") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
    return [entry["kid"] for entry in body["keys"]]


async def test_keys_list_and_rotate_and_the_rotation_is_audited(
    stack: Stack, observer: Observer, db: asyncpg.Connection
) -> None:
    await stack.start("relay", "relay")
    await stack.start("audit", "consume", "audit")
    before = await run_cli("keys", "list", env=stack.env)
    assert before.returncode == 0, before.stderr
    listed = [orjson.loads(line) for line in before.stdout.splitlines()]
    previous = next(key for key in listed if key["state"] == "current")

    rotated = await run_cli("keys", "rotate", "--algorithm", "ES256", env=stack.env)
    assert rotated.returncode == 0, rotated.stderr
    new = orjson.loads(rotated.stdout)
    assert (new["algorithm"], new["state"], new["rotatedAt"]) == ("ES256", "current", None)

    after = [
        orjson.loads(line)
        for line in (await run_cli("keys", "list", env=stack.env)).stdout.splitlines()
    ]
    assert set(after[0]) == {"kid", "algorithm", "state", "createdAt", "rotatedAt", "retireAfter"}
    assert after[0]["kid"] == new["kid"]
    old = next(key for key in after if key["kid"] == previous["kid"])
    assert old["state"] == "verifying" and old["rotatedAt"] and old["retireAfter"]

    (message,) = await observer.wait_for(1)
    assert message.routing_key == "signing_key.rotated"
    document = orjson.loads(message.body)
    payload_validator("SigningKeyEvent").validate(document)
    assert document["subject"] == new["kid"]
    assert document["data"]["key"] == {
        "kid": new["kid"],
        "alg": "ES256",
        "createdAt": new["createdAt"],
    }
    assert document["data"]["actor"]["_id"] == "oauth-apps-cli"
    assert not PRIVATE_MEMBERS & set(document["data"]["key"])

    async def audited() -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM audit_log"))

    await eventually(audited)
    entry = await db.fetchrow("SELECT event_type, app_id, actor_id FROM audit_log")
    assert tuple(entry) == ("signing_key.rotated", new["kid"], "oauth-apps-cli")


async def test_two_serve_processes_serve_a_new_key_within_5_s_and_keep_the_old(
    stack: Stack,
) -> None:
    first = await stack.serve("--no-relay")
    second = await stack.serve("--no-relay")
    async with aiohttp.ClientSession() as http:
        (previous, *_) = await served_kids(http, first)
        assert (await served_kids(http, second))[0] == previous
        rotated = await run_cli("keys", "rotate", env=stack.env)
        assert rotated.returncode == 0, rotated.stderr
        new = orjson.loads(rotated.stdout)["kid"]
        started = asyncio.get_running_loop().time()

        async def both_serve_it() -> bool:
            for base in (first, second):
                if (await served_kids(http, base))[:2] != [new, previous]:
                    return False
            return True

        await eventually(both_serve_it, timeout=5)
        assert asyncio.get_running_loop().time() - started < 5


@pytest.mark.parametrize(
    "command", [("migrate",), ("serve",), ("keys", "list"), ("keys", "rotate")]
)
async def test_a_missing_secret_key_is_one_line_naming_it(
    database_url: URL, command: tuple[str, ...]
) -> None:
    env = service_env(database_url, PORT=str(free_port()))
    del env["SECRET_KEY"]
    result = await run_cli(*command, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY" in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_serve_under_another_secret_key_stops_with_one_line(
    database_url: URL, workers: str
) -> None:
    env = service_env(
        database_url, PORT=str(free_port()), SECRET_KEY="not-the-secret-that-sealed-the-keys"
    )
    result = await run_cli("serve", "--workers", workers, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY" in lines[0] and "cannot decrypt" in lines[0]
