"""Which client a request comes from: at the token endpoint, and on the authorize page."""

from __future__ import annotations

from service.domain.ids import hash_token
from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import AuthorizeRefused, InvalidClient
from service.domain.redirect_uris import redirect_target_problem
from service.domain.timestamps import utc_now
from service.usecases.oauth2.stores import OAuth2Services

# What an unknown client's secret is compared with, so that it takes as long as a known one's.
_NOBODY = Client("", "", "", (), active=False, secret_hash=hash_token(""))


async def client_for_authorize(
    services: OAuth2Services, client_id: str | None, redirect_uri: str | None
) -> tuple[Client, str]:
    """The active app and the redirect URI to answer on; ``AuthorizeRefused`` otherwise."""
    if not client_id:
        raise AuthorizeRefused("The link that brought you here names no application.")
    # A client id is printable: anything else names no client, and is not sent to the
    # database at all (PostgreSQL refuses a NUL byte with an error).
    client = await services.store.find_client(client_id) if client_id.isprintable() else None
    if client is None or not client.active:
        raise AuthorizeRefused(
            "The application that sent you here is unknown or has been switched off."
        )
    uri = client.redirect_uri_for(redirect_uri)
    if redirect_target_problem(uri):
        raise AuthorizeRefused(
            "The application's return address is not one a browser can be safely sent to."
        )
    return client, uri


async def authenticate_client(
    services: OAuth2Services, client_id: str | None, secret: str | None
) -> Client:
    """The active app whose secret this is, or a public one named alone; ``InvalidClient`` else.

    A public client has no secret: it presents its ``client_id`` alone (an empty
    Basic password counts as none), and a secret presented for it proves nothing, so
    it is refused (an app switched to ``none`` loses its secret at once).
    """
    if not client_id or not client_id.isprintable():
        raise InvalidClient()

    async def load() -> tuple[Client, None] | None:
        found = await services.store.find_client(client_id)
        return None if found is None else (found, None)

    client = await services.cache.clients.get_or_load(client_id, load)
    if not secret:
        if client is None or not client.active or not client.is_public:
            raise InvalidClient()
        return client
    # Compared even for an unknown client. An unknown client is still answered faster
    # (only known ones are cached): client ids are public (RFC 6749 section 2.2), and
    # what timing may tell is whether one exists, never anything of a secret. A cached
    # client's previous secret is judged against the clock now, not when it was cached.
    matched = (client or _NOBODY).secret_matches(hash_token(secret), utc_now())
    if not matched or client is None or not client.active or client.is_public:
        raise InvalidClient()
    return client
