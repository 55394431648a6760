"""Login sessions of the authorization pages: a cookie names one, a CSRF token guards its forms.

A password login always starts a new session and ends the one the browser had, so
that a session id known before the login (fixation) or a previous user's session is
never carried over; ``/oauth/logout`` ends it. ``/api/v1/logout`` ends a login token,
never a page session: the two are separate credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.domain.accounts import Principal
from service.domain.ids import hash_token, random_secret
from service.domain.oauth2.sessions import SESSION_LIFETIME, WebSession
from service.domain.timestamps import utc_now
from service.usecases.oauth2.stores import OAuth2Services


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The user of a page session, its forms' CSRF token, and when the password was typed."""

    principal: Principal
    csrf_token: str
    authenticated_at: datetime | None


async def start_session(
    services: OAuth2Services, user_id: str, *, replacing: str | None = None
) -> tuple[str, str]:
    """Open a login session, ending the one ``replacing`` names: ``(cookie, CSRF token)``."""
    token, csrf = random_secret(), random_secret()
    now = utc_now()
    async with services.store.transaction() as tx:
        if replacing:
            await tx.delete_session(hash_token(replacing))
        await tx.insert_session(
            hash_token(token), WebSession(user_id, csrf, now), now + SESSION_LIFETIME
        )
    return token, csrf


async def end_session(services: OAuth2Services, cookie: str) -> None:
    """Sign out: the session stops working at once."""
    async with services.store.transaction() as tx:
        await tx.delete_session(hash_token(cookie))


async def session_user(services: OAuth2Services, cookie: str | None) -> SignedIn | None:
    """Who is signed in with this session cookie, if anyone."""
    if not cookie:
        return None
    found = await services.store.find_session(hash_token(cookie))
    if found is None:
        return None
    principal = await services.store.find_active_user(found.user_id)
    if principal is None:
        return None
    return SignedIn(principal, found.csrf_token, found.authenticated_at)
