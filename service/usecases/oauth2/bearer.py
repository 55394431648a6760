"""Access tokens as credentials: userinfo, and ``/api/v1`` like Rocket.Chat."""

from __future__ import annotations

from datetime import datetime

from service.domain.accounts import Principal
from service.domain.ids import hash_token
from service.domain.oauth2.errors import InsufficientScope
from service.domain.oauth2.resources import API_SCOPE
from service.domain.oauth2.tokens import BearerCaller, StoredToken
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
    """The caller an access token stands for on ``/api/v1``, through the principal cache.

    A token without the ``api`` scope is ``InsufficientScope``: it may sign a user in
    somewhere, not act as them.
    """

    async def load() -> tuple[BearerCaller, datetime | None] | None:
        found = await bearer_user(services, access_token)
        if found is None:
            return None
        principal, stored = found
        return BearerCaller(principal, stored.scope), stored.expires_at

    caller = await services.cache.bearers.get_or_load(hash_token(access_token), load)
    if caller is None:
        return None
    if API_SCOPE not in caller.scope:
        raise InsufficientScope.lacking(API_SCOPE)
    return caller.principal
