"""Token introspection (RFC 7662)."""

from __future__ import annotations

from typing import Any

from service.domain.ids import hash_token
from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import InvalidClient, InvalidRequest
from service.domain.oauth2.scopes import format_scope
from service.domain.timestamps import utc_now
from service.usecases.oauth2.stores import OAuth2Services


async def introspect(
    services: OAuth2Services, token: str | None, *, client: Client | None
) -> dict[str, Any]:
    """For the client the token was issued to, or (``client`` None) a manager of apps.

    Not for a public client: its client_id alone, which anyone may know, authorizes
    nothing (RFC 7662 section 2.1).
    """
    if client is not None and client.is_public:
        raise InvalidClient("A public client may not introspect tokens")
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
        # A machine client's token stands for the client itself (client_credentials).
        "sub": stored.grant.user_id or stored.grant.client_id,
        "scope": format_scope(stored.scope),
        "exp": int(stored.expires_at.timestamp()),
        "iat": int(stored.created_at.timestamp()),
        "token_type": stored.kind.type_hint,
    }
    if stored.resource is not None:
        answer["aud"] = stored.resource  # RFC 8707 section 2 / RFC 7662 section 2.2
    return answer
