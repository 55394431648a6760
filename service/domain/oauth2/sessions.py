"""Login sessions of the authorization pages (a cookie, never the user's password)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

SESSION_LIFETIME = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class WebSession:
    """A live session: whose it is, and the CSRF token its forms must carry."""

    user_id: str
    csrf_token: str
    # When the password was typed (an ID token's auth_time; prompt=login, max_age).
    authenticated_at: datetime | None = None
