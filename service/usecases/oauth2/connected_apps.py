"""The apps a user allowed, as ``/account/apps`` lists them, and taking one's access away."""

from __future__ import annotations

from service.domain.accounts import Principal
from service.domain.oauth2.grants import ConnectedApp
from service.domain.timestamps import utc_now
from service.usecases.oauth2.revocation import revoke_grant
from service.usecases.oauth2.stores import OAuth2Services


async def connected_apps(services: OAuth2Services, user_id: str) -> list[ConnectedApp]:
    """The user's live grants, newest first."""
    return await services.store.find_connected_apps(user_id)


async def disconnect(services: OAuth2Services, user: Principal, grant_id: str) -> bool:
    """Revoke the user's own grant and its tokens (an event, the user its actor).

    Whether it was revoked now: an unknown, revoked or another user's grant changes nothing.
    """
    async with services.store.transaction() as tx:
        grant = await tx.live_grant_of_user(grant_id, user.id)
        if grant is None:
            return False
        await revoke_grant(tx, grant, user.actor, utc_now())
    return True
