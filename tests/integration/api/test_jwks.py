"""``GET /oauth/jwks`` over real HTTP, and a rotation reaching a running process."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import orjson
from aiohttp.test_utils import TestClient
from joserfc import jwk, jws, jwt

from service.api.keys import OAUTH2
from service.domain.accounts import Actor
from service.domain.oauth2.keys import SigningAlgorithm
from service.persistence.database import Database
from service.usecases.oauth2.keys import KeySeal, rotate_keys
from tests.support.openapi import assert_documented
from tests.support.processes import TEST_SECRET_KEY
from tests.support.waiting import eventually

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}
OPERATOR = Actor("oauth-apps-cli", "tester")


async def jwks_of(client: TestClient[Any, Any]) -> list[dict[str, Any]]:
    response = await client.get("/oauth/jwks")
    assert response.status == 200
    keys: list[dict[str, Any]] = (await response.json())["keys"]
    return keys


async def test_the_jwks_serves_the_current_key_public_members_only_cacheable(
    client: TestClient[Any, Any], db: asyncpg.Connection
) -> None:
    response = await client.get("/oauth/jwks")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.content_type == "application/json"
    body = await response.json()
    assert_documented("GET", "/oauth/jwks", 200, body)
    current = await db.fetchval("SELECT kid FROM signing_keys WHERE rotated_at IS NULL")
    assert body["keys"][0]["kid"] == current
    for entry in body["keys"]:
        assert not PRIVATE_MEMBERS & set(entry), entry
        assert entry["use"] == "sig" and entry["alg"] in {"RS256", "ES256"}
        jwk.import_key(entry)  # a usable public key


async def test_a_rotation_is_served_at_once_and_the_old_key_still_verifies(
    client: TestClient[Any, Any], database: Database, db: asyncpg.Connection
) -> None:
    before = await jwks_of(client)
    previous = before[0]["kid"]
    rotated = await rotate_keys(
        database,
        KeySeal(TEST_SECRET_KEY),
        SigningAlgorithm.ES256,
        actor=OPERATOR,
        id_token_lifetime=timedelta(hours=1),
    )

    async def served() -> bool:
        return [entry["kid"] for entry in await jwks_of(client)][:2] == [rotated.kid, previous]

    # The table's notification reloads the ring; the periodic reload alone takes 4 s.
    await eventually(served, timeout=3)
    rows = await db.fetch(
        "SELECT kid, rotated_at, retire_after FROM signing_keys WHERE kid = ANY($1::text[])",
        [rotated.kid, previous],
    )
    by_kid = {row["kid"]: row for row in rows}
    assert by_kid[rotated.kid]["rotated_at"] is None
    old = by_kid[previous]
    assert old["retire_after"] - old["rotated_at"] == timedelta(hours=1, minutes=1)

    event = await db.fetchrow("SELECT event_type, aggregate_id, payload FROM outbox")
    assert (event["event_type"], event["aggregate_id"]) == ("signing_key.rotated", rotated.kid)
    payload = orjson.loads(event["payload"])
    assert payload["subject"] == rotated.kid
    assert payload["data"] == {
        "key": {"kid": rotated.kid, "alg": "ES256", "createdAt": payload["time"]},
        "actor": {"_id": "oauth-apps-cli", "username": "tester"},
    }


async def test_id_tokens_signed_before_a_rotation_verify_against_the_jwks(
    client: TestClient[Any, Any], database: Database
) -> None:
    keys = client.app[OAUTH2].keys
    token = keys.sign({"sub": "someone"})
    new = await rotate_keys(
        database,
        KeySeal(TEST_SECRET_KEY),
        SigningAlgorithm.RS256,
        actor=OPERATOR,
        id_token_lifetime=timedelta(hours=1),
    )

    async def rotated() -> bool:
        return jws.extract_compact(keys.sign({}).encode()).headers()["kid"] == new.kid

    await eventually(rotated, timeout=3)
    published = jwk.KeySet.import_key_set({"keys": await jwks_of(client)})  # type: ignore[typeddict-item]
    assert jwt.decode(token, published).claims == {"sub": "someone"}
    assert keys.verify(token) == {"sub": "someone"}
