"""Access tokens as credentials: userinfo, and ``/api/v1`` like Rocket.Chat."""

from __future__ import annotations

from datetime import datetime

from service.domain.accounts import Principal
from service.domain.ids import hash_token
from service.domain.oauth2.tokens import StoredToken
from service.domain.timestamps import utc_now
from service.usecases.oauth2.stores import OAuth2Services


async def bearer_user(
    services: OAuth2Services, access_token: str
) -> tuple[Principal, StoredToken] | None:
    """The user a live access token stands for, and the token."""
    stored = await services.store.find_token(hash_token(access_token))
    if stored is None or stored.grant.user_id is None or not stored.is_access_token(utc_now()):
        return None
    principal = await services.store.find_active_user(stored.grant.user_id)
    return None if principal is None else (principal, stored)


async def bearer_principal(services: OAuth2Services, access_token: str) -> Principal | None:
    """The caller an access token stands for on ``/api/v1``, through the principal cache."""

    async def load() -> tuple[Principal, datetime | None] | None:
        found = await bearer_user(services, access_token)
        return None if found is None else (found[0], found[1].expires_at)

    return await services.cache.bearers.get_or_load(hash_token(access_token), load)
