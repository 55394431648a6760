"""Proof Key for Code Exchange (RFC 7636), S256 only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from enum import StrEnum

# RFC 7636 section 4.1: 43 to 128 characters of this alphabet.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
METHODS_SUPPORTED = ("S256",)


class PkceMode(StrEnum):
    """``OAUTH_PKCE``: whether a client may omit PKCE."""

    REQUIRED = "required"
    OPTIONAL = "optional"  # confidential Rocket.Chat-era clients may omit it


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))`` without padding (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_pkce(challenge: str | None, verifier: str | None) -> bool:
    """Whether ``verifier`` answers ``challenge``; without a challenge, no verifier may come."""
    if challenge is None:
        return verifier is None
    if verifier is None or not _VERIFIER.fullmatch(verifier):
        return False
    return hmac.compare_digest(s256_challenge(verifier), challenge)
