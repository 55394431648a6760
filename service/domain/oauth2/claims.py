"""What ID tokens and userinfo say about a user, by the scopes granted (OIDC Core 5.4)."""

from __future__ import annotations

from typing import Any

from service.domain.oauth2.scopes import SCOPES
from service.domain.oauth2.tokens import TokenUser


def user_claims(user: TokenUser, scope: frozenset[str]) -> dict[str, Any]:
    """``sub`` always, and the claims of each granted scope."""
    values: dict[str, Any] = {
        "sub": user.id,
        "name": user.username,
        "preferred_username": user.username,
        "preffered_username": user.username,
        "updated_at": int(user.updated_at.timestamp()) if user.updated_at else None,
        "email": user.email,
        "email_verified": user.email_verified,
    }
    wanted = {"sub"} | {claim for s in SCOPES if s.name in scope for claim in s.claims}
    return {name: value for name, value in values.items() if name in wanted}
