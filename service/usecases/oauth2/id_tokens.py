"""ID tokens: issued with the tokens of a grant whose scope has ``openid``."""

from __future__ import annotations

from datetime import datetime

from service.domain.oauth2.clients import Client
from service.domain.oauth2.id_tokens import id_token_claims
from service.domain.oauth2.tokens import TokenUser
from service.domain.timestamps import utc_now
from service.usecases.oauth2.stores import OAuth2Services

OPENID = "openid"


def id_token_for(
    services: OAuth2Services,
    client: Client,
    user: TokenUser | None,
    scope: frozenset[str],
    access_token: str,
    *,
    auth_time: datetime | None,
    nonce: str | None = None,
) -> str | None:
    """The signed ID token, or None when the scope has no ``openid`` (or no user)."""
    if OPENID not in scope or user is None:
        return None
    claims = id_token_claims(
        issuer=services.issuer,
        client_id=client.client_id,
        user=user,
        scope=scope,
        access_token=access_token,
        now=utc_now(),
        lifetime=services.id_token_lifetime,
        auth_time=auth_time,
        nonce=nonce,
    )
    return services.keys.sign(claims)
