"""The claims of an ID token (OpenID Connect Core 1.0 sections 2, 3.1.3.6 and 12.2).

Signing is the keys' job (``usecases/oauth2/keys.py``, a maintained JOSE library);
this module only decides what the token says.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any

from service.domain.oauth2.claims import user_claims
from service.domain.oauth2.tokens import TokenUser

ID_TOKEN_LIFETIME = timedelta(seconds=3600)


def at_hash(access_token: str) -> str:
    """The left half of the access token's SHA-256, base64url (RS256 and ES256 alike)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def id_token_claims(
    *,
    issuer: str,
    client_id: str,
    user: TokenUser,
    scope: frozenset[str],
    access_token: str,
    now: datetime,
    lifetime: timedelta = ID_TOKEN_LIFETIME,
    auth_time: datetime | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """Every claim of the ID token: who, for whom, when, and the granted scopes' claims."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "azp": client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "at_hash": at_hash(access_token),
    }
    if auth_time is not None:
        claims["auth_time"] = int(auth_time.timestamp())
    if nonce is not None:
        claims["nonce"] = nonce
    return user_claims(user, scope) | claims
