"""Token introspection (RFC 7662)."""

from __future__ import annotations

from typing import Any

from service.domain.ids import hash_token
from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import InvalidRequest
from service.domain.oauth2.scopes import format_scope
from service.domain.timestamps import utc_now
from service.usecases.oauth2.stores import OAuth2Services


async def introspect(
    services: OAuth2Services, token: str | None, *, client: Client | None
) -> dict[str, Any]:
    """For the client the token was issued to, or (``client`` None) a manager of apps."""
    if not token:
        raise InvalidRequest("token is required")
    stored = await services.tokens.look_up(hash_token(token))
    if stored is None or not stored.active(utc_now()):
        return {"active": False}
    if client is not None and stored.grant.client_id != client.client_id:
        return {"active": False}
    answer = {
        "active": True,
        "client_id": stored.grant.client_id,
        "username": stored.user.username if stored.user else None,
        "sub": stored.grant.user_id,
        "scope": format_scope(stored.scope),
        "exp": int(stored.expires_at.timestamp()),
        "iat": int(stored.created_at.timestamp()),
        "token_type": stored.kind.type_hint,
    }
    if stored.resource is not None:
        answer["aud"] = stored.resource  # RFC 8707 section 2 / RFC 7662 section 2.2
    return answer
