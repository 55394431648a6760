"""A signing key's states, and the JWKS entry it gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.domain.oauth2.keys import ROTATION_GRACE, KeyState, SigningAlgorithm, SigningKey

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
# A private JWK as a careless caller might store it: the entry must drop its secrets.
PRIVATE_JWK = {
    "kty": "RSA",
    "n": "modulus",
    "e": "AQAB",
    **{member: "secret" for member in ("d", "p", "q", "dp", "dq", "qi")},
}


def key(public_jwk: dict[str, str] = PRIVATE_JWK) -> SigningKey:
    return SigningKey("kid-1", SigningAlgorithm.RS256, public_jwk, NOW, sealed_private_key=b"x")


def test_a_replaced_key_verifies_until_its_last_id_token_expired_then_retires() -> None:
    lifetime = timedelta(hours=1)
    assert key().state(NOW + timedelta(days=400)) is KeyState.CURRENT
    rotated = key().rotated(NOW, lifetime)
    assert rotated.retire_after == NOW + lifetime + ROTATION_GRACE
    assert rotated.state(NOW + lifetime) is KeyState.VERIFYING
    assert rotated.state(NOW + lifetime + ROTATION_GRACE) is KeyState.RETIRED


def test_the_jwks_entry_holds_public_members_only() -> None:
    assert key().public_document() == {
        "kty": "RSA",
        "kid": "kid-1",
        "use": "sig",
        "alg": "RS256",
        "n": "modulus",
        "e": "AQAB",
    }
    ec = {"kty": "EC", "crv": "P-256", "x": "X", "y": "Y", "d": "secret"}
    assert "d" not in key(ec).public_document()


def test_the_listing_and_the_event_carry_no_key_material() -> None:
    rotated = key().rotated(NOW, timedelta(hours=1))
    assert rotated.to_listing(NOW) == {
        "kid": "kid-1",
        "algorithm": "RS256",
        "state": "verifying",
        "createdAt": "2026-12-06T10:00:00.000Z",
        "rotatedAt": "2026-12-06T10:00:00.000Z",
        "retireAfter": "2026-12-06T11:01:00.000Z",
    }
    assert rotated.to_event_document() == {
        "kid": "kid-1",
        "alg": "RS256",
        "createdAt": "2026-12-06T10:00:00.000Z",
    }
    assert "sealed_private_key" not in repr(rotated)
