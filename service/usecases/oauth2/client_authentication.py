"""Which client a request comes from: at the token endpoint, and on the authorize page."""

from __future__ import annotations

from service.domain.ids import hash_token
from service.domain.oauth2.clients import Client, secrets_match
from service.domain.oauth2.errors import AuthorizeRefused, InvalidClient
from service.usecases.oauth2.stores import OAuth2Services


async def client_for_authorize(
    services: OAuth2Services, client_id: str | None, redirect_uri: str | None
) -> tuple[Client, str]:
    """The active app and the redirect URI to answer on; ``AuthorizeRefused`` otherwise."""
    if not client_id:
        raise AuthorizeRefused("client_id is missing")
    client = await services.store.find_client(client_id)
    if client is None or not client.active:
        raise AuthorizeRefused("unknown or inactive client_id")
    return client, client.redirect_uri_for(redirect_uri)


async def authenticate_client(
    services: OAuth2Services, client_id: str | None, secret: str | None
) -> Client:
    """The active app whose secret this is; ``InvalidClient`` otherwise."""
    if not client_id or secret is None:
        raise InvalidClient()

    async def load() -> tuple[Client, None] | None:
        found = await services.store.find_client(client_id)
        return None if found is None else (found, None)

    client = await services.cache.clients.get_or_load(client_id, load)
    # Compared even for an unknown client, so that the comparison is no shortcut.
    stored = client.secret_hash if client is not None else hash_token("")
    if not secrets_match(stored, hash_token(secret)) or client is None or not client.active:
        raise InvalidClient()
    return client
