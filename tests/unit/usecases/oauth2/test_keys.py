"""Sealing the private keys under SECRET_KEY, and the key ring that signs and verifies."""

from __future__ import annotations

import base64
import dataclasses
from datetime import timedelta

import orjson
import pytest

from service.config import ConfigError
from service.domain.oauth2.keys import ROTATION_GRACE, SigningAlgorithm, SigningKey
from service.domain.timestamps import utc_now
from service.usecases.oauth2.keys import KeyRing, KeySeal, new_signing_key
from tests.support.processes import TEST_SECRET_KEY
from tests.support.waiting import eventually
from tests.unit.usecases.oauth2.fakes import key_ring

SEAL = KeySeal(TEST_SECRET_KEY)
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}
CLAIMS = {"iss": "http://issuer.test", "sub": "user", "aud": "client", "exp": 1}


def header_of(token: str) -> dict[str, object]:
    encoded = token.split(".")[0]
    decoded: dict[str, object] = orjson.loads(base64.urlsafe_b64decode(encoded + "=" * 3))
    return decoded


def test_a_sealed_key_opens_with_its_secret_and_kid_only() -> None:
    sealed = SEAL.seal("kid-1", b"private key")
    assert SEAL.open("kid-1", sealed) == b"private key"
    assert b"private key" not in sealed
    assert SEAL.seal("kid-1", b"private key") != sealed  # a fresh nonce each time
    with pytest.raises(ConfigError) as wrong_secret:
        KeySeal("another-secret-key-of-at-least-32-characters").open("kid-1", sealed)
    assert wrong_secret.value.variable == "SECRET_KEY"
    assert "kid-1" in str(wrong_secret.value)
    with pytest.raises(ConfigError):
        SEAL.open("kid-2", sealed)  # the kid is authenticated: a copied row does not open


@pytest.mark.parametrize("algorithm", list(SigningAlgorithm))
def test_a_new_key_stores_no_private_member_in_the_clear(algorithm: SigningAlgorithm) -> None:
    key = new_signing_key(algorithm, SEAL, utc_now())
    assert not PRIVATE_MEMBERS & set(key.public_jwk)
    assert key.public_jwk["alg"] == algorithm.value and key.public_jwk["kid"] == key.kid
    assert len(key.kid) == 16


@pytest.mark.parametrize("algorithm", list(SigningAlgorithm))
def test_the_ring_signs_with_the_current_key_and_verifies_it(algorithm: SigningAlgorithm) -> None:
    key = new_signing_key(algorithm, SEAL, utc_now())
    ring = key_ring(key)
    token = ring.sign(CLAIMS)
    assert header_of(token) == {"typ": "JWT", "alg": algorithm.value, "kid": key.kid}
    assert ring.verify(token) == CLAIMS  # expired long ago: the expiry is the caller's
    assert ring.algorithms == [algorithm.value]


def test_a_tampered_foreign_or_malformed_token_is_not_verified() -> None:
    ring = key_ring()
    token = ring.sign(CLAIMS)
    header, payload, signature = token.split(".")
    forged = base64.urlsafe_b64encode(orjson.dumps({**CLAIMS, "sub": "admin"})).rstrip(b"=")
    assert ring.verify(f"{header}.{forged.decode()}.{signature}") is None
    other = key_ring(new_signing_key(SigningAlgorithm.RS256, SEAL, utc_now()))
    assert other.verify(token) is None
    unsigned = base64.urlsafe_b64encode(orjson.dumps({"alg": "none", "kid": "x"})).rstrip(b"=")
    for bad in ("", "a.b", "not.a.token", f"{unsigned.decode()}.{payload}."):
        assert ring.verify(bad) is None


def test_the_jwks_has_no_private_member() -> None:
    rs = new_signing_key(SigningAlgorithm.RS256, SEAL, utc_now())
    es = new_signing_key(SigningAlgorithm.ES256, SEAL, utc_now())
    leaky = dataclasses.replace(rs, public_jwk={**rs.public_jwk, "d": "private", "p": "private"})
    jwks = key_ring(es, leaky.rotated(utc_now(), timedelta(hours=1))).jwks()
    assert [entry["kid"] for entry in jwks["keys"]] == [es.kid, rs.kid]
    for entry in jwks["keys"]:
        assert not PRIVATE_MEMBERS & set(entry)
        assert entry["use"] == "sig"


def test_after_a_rotation_the_old_key_verifies_until_it_retires() -> None:
    now = utc_now()
    old = new_signing_key(SigningAlgorithm.RS256, SEAL, now - timedelta(days=1))
    ring = key_ring(old)
    old_token = ring.sign(CLAIMS)
    new = new_signing_key(SigningAlgorithm.ES256, SEAL, now)
    rotated = old.rotated(now, timedelta(hours=1))
    ring.use([new, rotated])
    assert header_of(ring.sign(CLAIMS))["kid"] == new.kid
    assert ring.verify(old_token) == CLAIMS
    assert ring.algorithms == ["RS256", "ES256"]
    assert [entry["kid"] for entry in ring.jwks()["keys"]] == [new.kid, old.kid]
    # Past retire_after, before the purge deleted it: in no JWKS, verifying nothing.
    ring.use([new, dataclasses.replace(rotated, retire_after=now - ROTATION_GRACE)])
    assert ring.verify(old_token) is None
    assert [entry["kid"] for entry in ring.jwks()["keys"]] == [new.kid]
    assert ring.algorithms == ["ES256"]


def test_the_ring_refuses_keys_without_a_current_one_or_under_another_secret() -> None:
    ring = key_ring()
    rotated = new_signing_key(SigningAlgorithm.RS256, SEAL, utc_now()).rotated(
        utc_now(), timedelta(hours=1)
    )
    with pytest.raises(ConfigError, match="oauth-apps migrate"):
        ring.use([rotated])
    foreign = new_signing_key(
        SigningAlgorithm.RS256, KeySeal("another-secret-key-of-at-least-32-chars"), utc_now()
    )
    with pytest.raises(ConfigError) as caught:
        ring.use([foreign])
    assert caught.value.variable == "SECRET_KEY"
    assert ring.verify(ring.sign(CLAIMS)) == CLAIMS  # the keys it held go on


async def test_the_ring_reloads_when_told_of_its_table() -> None:
    first = new_signing_key(SigningAlgorithm.RS256, SEAL, utc_now())
    stored: list[SigningKey] = [first]

    async def load() -> list[SigningKey]:
        return list(stored)

    ring = KeyRing(SEAL, load, reload_interval=600)  # only the notification can reload it
    await ring.start()
    try:
        second = new_signing_key(SigningAlgorithm.ES256, SEAL, utc_now())
        stored[:] = [second, first.rotated(utc_now(), timedelta(hours=1))]
        ring.changed("signing_keys")

        async def reloaded() -> bool:
            return header_of(ring.sign(CLAIMS))["kid"] == second.kid

        await eventually(reloaded, timeout=5)
        assert ring.algorithms == ["RS256", "ES256"]
    finally:
        await ring.close()
