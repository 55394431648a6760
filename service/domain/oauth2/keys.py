"""Signing keys of ID tokens: their algorithms, their states, and when a replaced one retires."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from service.domain.timestamps import format_timestamp


class SigningAlgorithm(StrEnum):
    """The JWS algorithms a key may have; RS256 first, as every OpenID client accepts it."""

    RS256 = "RS256"  # RSA 2048
    ES256 = "ES256"  # ECDSA on P-256


# The first key, made by ``migrate``: the algorithm OpenID Connect Core requires.
FIRST_ALGORITHM = SigningAlgorithm.RS256


class KeyState(StrEnum):
    """Where a key is in its life."""

    CURRENT = "current"  # signs new ID tokens
    VERIFYING = "verifying"  # replaced, still in the JWKS for the ID tokens it signed
    RETIRED = "retired"  # every ID token it signed has expired; the purge deletes it


# A process keeps signing with the replaced key until it sees the rotation (within
# 5 s); a minute more covers that and clocks a little apart.
ROTATION_GRACE = timedelta(minutes=1)

# The public parameters of each key type (RFC 7518 section 6): the JWKS shows these and
# kty, kid, use, alg, never anything else (d, p, q, dp, dq, qi, a symmetric k).
PUBLIC_PARAMETERS: Mapping[str, tuple[str, ...]] = {"RSA": ("n", "e"), "EC": ("crv", "x", "y")}


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A key as stored: its public JWK in the clear, its private key sealed under SECRET_KEY."""

    kid: str
    algorithm: SigningAlgorithm
    public_jwk: Mapping[str, Any]
    created_at: datetime
    sealed_private_key: bytes = field(repr=False)
    rotated_at: datetime | None = None
    retire_after: datetime | None = None

    def state(self, now: datetime) -> KeyState:
        """The key's state at ``now``."""
        if self.retire_after is None:
            return KeyState.CURRENT
        return KeyState.VERIFYING if now < self.retire_after else KeyState.RETIRED

    def rotated(self, now: datetime, id_token_lifetime: timedelta) -> SigningKey:
        """The key once replaced at ``now``: it verifies until its last ID token expires."""
        return dataclasses.replace(
            self, rotated_at=now, retire_after=now + id_token_lifetime + ROTATION_GRACE
        )

    def public_document(self) -> dict[str, Any]:
        """The key's JWKS entry: public members only, whatever the stored JWK holds."""
        kty = self.public_jwk["kty"]
        public = {name: self.public_jwk[name] for name in PUBLIC_PARAMETERS[kty]}
        return {"kty": kty, "kid": self.kid, "use": "sig", "alg": self.algorithm.value, **public}

    def to_event_document(self) -> dict[str, str]:
        """The key as ``signing_key.rotated`` cites it: no key material."""
        return {
            "kid": self.kid,
            "alg": self.algorithm.value,
            "createdAt": format_timestamp(self.created_at),
        }

    def to_listing(self, now: datetime) -> dict[str, str | None]:
        """The key as ``oauth-apps keys list`` prints it."""
        return {
            "kid": self.kid,
            "algorithm": self.algorithm.value,
            "state": self.state(now).value,
            "createdAt": format_timestamp(self.created_at),
            "rotatedAt": _timestamp(self.rotated_at),
            "retireAfter": _timestamp(self.retire_after),
        }


def _timestamp(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)
