"""The signing keys as PostgreSQL holds them: sealed, one current, retired ones purged."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

import asyncpg
import pytest
from joserfc.jwk import ECKey, RSAKey

from service.config import ConfigError, Settings
from service.domain.accounts import Actor
from service.domain.oauth2.keys import SigningAlgorithm
from service.persistence import oauth2
from service.persistence.database import Database, asyncpg_dsn
from service.usecases.oauth2.keys import KeySeal, ensure_first_key, list_keys, rotate_keys
from tests.support.processes import TEST_SECRET_KEY

SEAL = KeySeal(TEST_SECRET_KEY)
OPERATOR = Actor("oauth-apps-cli", "tester")
# What a private key looks like in the clear: JWK members, PEM armour.
PRIVATE_MARKERS = ('"d":', '"p":', '"q":', '"dp":', '"dq":', '"qi":', "PRIVATE KEY")


async def rotate(database: Database, algorithm: SigningAlgorithm) -> None:
    await rotate_keys(
        database, SEAL, algorithm, actor=OPERATOR, id_token_lifetime=timedelta(hours=1)
    )


async def test_migrate_keeps_one_current_key_and_a_wrong_secret_is_refused(
    database: Database,
) -> None:
    assert await ensure_first_key(database, SEAL) is None  # the test database has one
    await rotate(database, SigningAlgorithm.RS256)
    keys = await list_keys(database)
    assert [key.rotated_at is None for key in keys].count(True) == 1
    wrong = KeySeal("not-the-secret-key-that-sealed-these-keys")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        await ensure_first_key(database, wrong)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        await rotate_keys(
            database,
            wrong,
            SigningAlgorithm.RS256,
            actor=OPERATOR,
            id_token_lifetime=timedelta(hours=1),
        )
    assert await list_keys(database) == keys  # refused before anything changed


async def test_the_purge_deletes_only_keys_whose_tokens_have_all_expired(
    database: Database, db: asyncpg.Connection
) -> None:
    await rotate(database, SigningAlgorithm.ES256)
    await db.execute(
        "INSERT INTO signing_keys"
        " (kid, algorithm, public_jwk, private_key, created_at, rotated_at, retire_after)"
        " VALUES ('retired-kid', 'RS256', '{}', '\\x00', now() - interval '2 hours',"
        " now() - interval '2 hours', now() - interval '1 second')"
    )
    live = await db.fetchval("SELECT count(*) FROM signing_keys WHERE kid <> 'retired-kid'")
    async with database.autocommit.connect() as connection:
        assert await dict(oauth2.PURGES)["retired_signing_keys"](connection, 10) == 1
        assert await dict(oauth2.PURGES)["retired_signing_keys"](connection, 10) == 0
    assert await db.fetchval("SELECT count(*) FROM signing_keys") == live


async def test_a_dump_after_creation_and_rotation_holds_no_private_key(
    settings: Settings, database: Database
) -> None:
    await rotate(database, SigningAlgorithm.ES256)
    await rotate(database, SigningAlgorithm.RS256)
    process = await asyncio.create_subprocess_exec(
        "pg_dump", "--dbname", asyncpg_dsn(settings.database_url), stdout=asyncio.subprocess.PIPE
    )
    dump, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    text = dump.decode()
    keys = await list_keys(database)
    assert len(keys) >= 3 and all(key.kid in text for key in keys)  # the dump has the table
    for marker in PRIVATE_MARKERS:
        assert marker not in text, marker
    for key in keys:
        pkcs8 = SEAL.open(key.kid, key.sealed_private_key)
        kind = RSAKey if key.algorithm is SigningAlgorithm.RS256 else ECKey
        private_d = str(kind.import_key(pkcs8).as_dict(private=True)["d"])
        for form in (pkcs8.hex(), base64.b64encode(pkcs8).decode(), private_d):
            assert form[:64] not in text
