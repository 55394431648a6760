"""What the authorization server's use cases need from storage, as small protocols.

``persistence/oauth2/store.py`` implements them on PostgreSQL, the unit tests on
dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from service.domain.accounts import Principal
from service.domain.events import Event
from service.domain.oauth2.clients import Client
from service.domain.oauth2.grants import ConnectedApp, Grant
from service.domain.oauth2.id_tokens import ID_TOKEN_LIFETIME
from service.domain.oauth2.pkce import PkceMode
from service.domain.oauth2.sessions import WebSession
from service.domain.oauth2.tokens import NewToken, Rotated, Rotation, StoredCode, StoredToken
from service.usecases.auth_cache import AuthCache


class OAuth2Transaction(Protocol):
    """The writes of one transaction: all of them commit together, or none."""

    async def live_grant(self, app_id: str, user_id: str | None) -> Grant | None:
        """The user's unrevoked grant of this app (``user_id`` None: the client's own)."""

    async def live_grants_of_app(self, app_id: str) -> list[Grant]:
        """Every unrevoked grant of an app."""

    async def live_grant_of_user(self, grant_id: str, user_id: str) -> Grant | None:
        """This grant when it is live and the user's own."""

    async def insert_grant(self, grant: Grant) -> bool:
        """Record a new grant; False when the user's live grant of the app exists already."""

    async def revoke_grant(self, grant_id: str, now: datetime) -> bool:
        """Revoke a grant and every token of it; whether it was live."""

    async def widen_grant(self, grant_id: str, scope: frozenset[str]) -> None:
        """Record the grant's scope after the user allowed more."""

    async def insert_code(self, code_hash: str, code: StoredCode) -> None:
        """Store a new code's hash."""

    async def take_code(self, code_hash: str, now: datetime) -> StoredCode | None:
        """The code, locked until commit, as it was; it is marked used."""

    async def insert_token(self, token: NewToken) -> None:
        """Store a new token's hash."""

    async def locked_token(self, token_hash: str) -> StoredToken | None:
        """The token, locked until commit."""

    async def revoke_token(self, token_hash: str, now: datetime) -> None:
        """Revoke one token."""

    async def revoke_family(self, family: str, now: datetime) -> None:
        """Revoke every token of a refresh family."""

    async def revoke_issued_from_code(self, code_hash: str, now: datetime) -> None:
        """Revoke every family a code started."""

    async def insert_session(
        self, session_hash: str, web_session: WebSession, expires_at: datetime
    ) -> None:
        """Store a login session of the pages."""

    async def delete_session(self, session_hash: str) -> None:
        """End a login session (it may already be gone)."""

    async def add_event(self, event: Event) -> None:
        """Queue an event in the outbox, in this transaction."""


class OAuth2Store(Protocol):
    """Reads, each on its own, and transactions."""

    def transaction(self) -> AbstractAsyncContextManager[OAuth2Transaction]:
        """A transaction, committed when the block ends without an exception."""

    async def find_client(self, client_id: str) -> Client | None:
        """The app whose ``clientId`` this is."""

    async def find_token(self, token_hash: str) -> StoredToken | None:
        """The token with this hash, with its grant's app and user."""

    async def find_public_redirect_uris(self) -> list[str]:
        """The redirect URIs of every active public client."""

    async def find_session(self, session_hash: str) -> WebSession | None:
        """The live login session with this hash, of an active user."""

    async def find_active_user(self, user_id: str) -> Principal | None:
        """The active user with its permissions."""

    async def find_live_grant(self, app_id: str, user_id: str) -> Grant | None:
        """The user's unrevoked grant of this app."""

    async def find_connected_apps(self, user_id: str) -> list[ConnectedApp]:
        """The user's live grants with their apps and when each last got a token."""


class TokenStatements(Protocol):
    """The token endpoint's hot statements (batched across requests in production)."""

    async def rotate(self, rotation: Rotation) -> Rotated | None:
        """The used token's scope and user when it was live and is now exchanged, else None."""

    async def look_up(self, token_hash: str) -> StoredToken | None:
        """The token with this hash, with its grant's app and user."""


class IdTokenSigner(Protocol):
    """The signing keys, as the token endpoint and logout use them (``usecases/oauth2/keys.py``)."""

    @property
    def algorithms(self) -> list[str]:
        """The algorithms of the keys that sign or still verify: ``RS256`` first."""

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact JWS of ``claims`` with the current key (header ``alg``, ``kid``, ``typ``)."""

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a JWS one of our keys signed (expired or not), else None."""

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWK Set of the keys that sign or still verify: public members only."""


@dataclass(frozen=True, slots=True)
class OAuth2Services:
    """Everything the authorization server's use cases work with, built once per process."""

    store: OAuth2Store
    tokens: TokenStatements
    keys: IdTokenSigner
    pkce: PkceMode = PkceMode.REQUIRED
    # A cache that is not listening stores nothing: without one, every read goes through.
    cache: AuthCache = field(default_factory=AuthCache)
    # ID tokens: who signs them (PUBLIC_URL) and how long they live.
    issuer: str = "http://127.0.0.1:3000"
    id_token_lifetime: timedelta = ID_TOKEN_LIFETIME
