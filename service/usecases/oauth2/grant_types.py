"""The one registry of grant types, which the token endpoint dispatches through.

The metadata documents list what it holds (``api/oauth2/metadata.py``).

Adding a grant type is a module with a class that has ``name`` and ``issue``, and its
line in ``GRANT_TYPES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import InvalidRequest, UnauthorizedClient, UnsupportedGrantType
from service.domain.oauth2.resources import checked_resource
from service.domain.oauth2.tokens import IssuedTokens
from service.usecases.oauth2.authorization_code import AuthorizationCodeGrant
from service.usecases.oauth2.client_credentials import ClientCredentialsGrant
from service.usecases.oauth2.refresh_token import RefreshTokenGrant
from service.usecases.oauth2.stores import OAuth2Services
from service.usecases.oauth2.token_requests import TokenRequest


class GrantType(Protocol):
    """A grant type of RFC 6749 section 4 (or an extension's)."""

    @property
    def name(self) -> str:
        """Its ``grant_type`` value."""

    async def issue(self, services: OAuth2Services, request: TokenRequest) -> IssuedTokens:
        """Check the request and issue its tokens; an ``OAuthError`` otherwise."""


GRANT_TYPES: Mapping[str, GrantType] = {
    grant.name: grant
    for grant in (AuthorizationCodeGrant(), RefreshTokenGrant(), ClientCredentialsGrant())
}


@dataclass(frozen=True, slots=True)
class Issued:
    """A token response and the grant type that issued it (for the metrics)."""

    grant_type: str
    tokens: IssuedTokens


async def issue_tokens(services: OAuth2Services, client: Client, request: TokenRequest) -> Issued:
    """RFC 6749 section 3.2: the grant type the request names, if the client may use it."""
    grant_type = request.field("grant_type")
    if grant_type is None:
        raise InvalidRequest("grant_type is required")
    grant = GRANT_TYPES.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(f"grant_type {grant_type!r} is not supported")
    if not client.may_use(grant_type):
        raise UnauthorizedClient(f"This client may not use grant_type {grant_type!r}")
    checked_resource(request.field("resource"), services.issuer)  # RFC 8707, for every grant
    return Issued(grant_type, await grant.issue(services, request))
