"""Dynamic client registration (RFC 7591): who may register, and what they may not ask for."""

from __future__ import annotations

from enum import StrEnum

from service.domain.oauth2.client_metadata import DEFAULT_GRANT_TYPES, RegistrationRequest
from service.domain.oauth2.errors import InvalidClientMetadata

# RFC 7591 registrations without a ``scope``: least privilege, ``api`` only when asked.
REGISTERED_DEFAULT_SCOPES = frozenset({"openid", "profile", "email"})
# What a registrant who is not an administrator may use: a user's grants, never a
# machine's (client_credentials would act without any user's consent).
SELF_REGISTERED_GRANT_TYPES = frozenset(DEFAULT_GRANT_TYPES)


class RegistrationMode(StrEnum):
    """``OAUTH_REGISTRATION``: whether ``POST /oauth/register`` exists, and for whom."""

    OFF = "off"
    TOKEN = "token"  # noqa: S105 - a mode's name: an initial access token, or an administrator
    OPEN = "open"


def check_self_registration(request: RegistrationRequest) -> None:
    """What only an administrator may register: a client that may skip PKCE."""
    if request.metadata.require_pkce is False:
        raise InvalidClientMetadata(
            "require_pkce false is for administrators only: omit it or send true"
        )
