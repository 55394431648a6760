"""The SQL behind the authorization server's store protocols (``usecases/oauth2/stores.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.accounts import Principal
from service.domain.events import Event
from service.domain.oauth2.clients import Client
from service.domain.oauth2.grants import ConnectedApp, Grant
from service.domain.oauth2.sessions import WebSession
from service.domain.oauth2.tokens import NewToken, StoredCode, StoredToken
from service.persistence import accounts, outbox
from service.persistence.database import Database
from service.persistence.oauth2 import clients, codes, grants, sessions, tokens


class SqlOAuth2Transaction:
    """One database transaction of the authorization server."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def live_grant(self, app_id: str, user_id: str | None) -> Grant | None:
        """The user's unrevoked grant of this app."""
        return await grants.live_grant(self._session, app_id, user_id)

    async def live_grants_of_app(self, app_id: str) -> list[Grant]:
        """Every unrevoked grant of an app."""
        return await grants.live_grants_of_app(self._session, app_id)

    async def live_grant_of_user(self, grant_id: str, user_id: str) -> Grant | None:
        """This grant when it is live and the user's own."""
        return await grants.live_grant_of_user(self._session, grant_id, user_id)

    async def insert_grant(self, grant: Grant) -> bool:
        """Record a new grant, unless a concurrent approval made the live one."""
        return await grants.insert_grant(self._session, grant)

    async def revoke_grant(self, grant_id: str, now: datetime) -> bool:
        """Revoke a grant and its tokens; whether it was live."""
        return await grants.revoke_grant(self._session, grant_id, now)

    async def widen_grant(self, grant_id: str, scope: frozenset[str]) -> None:
        """Record the grant's wider scope."""
        await grants.widen_grant(self._session, grant_id, scope)

    async def insert_code(self, code_hash: str, code: StoredCode) -> None:
        """Store a code's hash."""
        await codes.insert_code(self._session, code_hash, code)

    async def take_code(self, code_hash: str, now: datetime) -> StoredCode | None:
        """The code, locked and marked used."""
        return await codes.take_code(self._session, code_hash, now)

    async def insert_token(self, token: NewToken) -> None:
        """Store a token's hash."""
        await tokens.insert_token(self._session, token)

    async def locked_token(self, token_hash: str) -> StoredToken | None:
        """The token, locked until the transaction ends."""
        return await tokens.find_token(self._session, token_hash, lock=True)

    async def revoke_token(self, token_hash: str, now: datetime) -> None:
        """Revoke one token."""
        await tokens.revoke_token(self._session, token_hash, now)

    async def revoke_family(self, family: str, now: datetime) -> None:
        """Revoke a refresh family."""
        await tokens.revoke_family(self._session, family, now)

    async def revoke_issued_from_code(self, code_hash: str, now: datetime) -> None:
        """Revoke what a code issued."""
        await tokens.revoke_issued_from_code(self._session, code_hash, now)

    async def insert_session(
        self, session_hash: str, web_session: WebSession, expires_at: datetime
    ) -> None:
        """Store a login session."""
        await sessions.insert_session(self._session, session_hash, web_session, expires_at)

    async def delete_session(self, session_hash: str) -> None:
        """End a login session."""
        await sessions.delete_session(self._session, session_hash)

    async def add_event(self, event: Event) -> None:
        """Queue an event in the outbox, in this transaction."""
        await outbox.add_event(self._session, event)


class SqlOAuth2Store:
    """The authorization server's reads (each in autocommit) and its transactions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlOAuth2Transaction]:
        """A transaction, committed when the block ends without an exception."""
        async with self._db.sessions.begin() as session:
            yield SqlOAuth2Transaction(session)

    async def find_client(self, client_id: str) -> Client | None:
        """The app whose ``clientId`` this is."""
        async with self._db.autocommit.connect() as connection:
            return await clients.find_client(connection, client_id)

    async def find_token(self, token_hash: str) -> StoredToken | None:
        """The token with this hash, with its grant's app and user."""
        async with self._db.autocommit.connect() as connection:
            return await tokens.find_token(connection, token_hash)

    async def find_public_redirect_uris(self) -> list[str]:
        """The redirect URIs of every active public client."""
        async with self._db.autocommit.connect() as connection:
            return await clients.public_redirect_uris(connection)

    async def find_session(self, session_hash: str) -> WebSession | None:
        """The live login session with this hash."""
        async with self._db.sessions() as session:
            return await sessions.find_session(session, session_hash)

    async def find_active_user(self, user_id: str) -> Principal | None:
        """The active user with its permissions."""
        async with self._db.autocommit.connect() as connection:
            return await accounts.find_active_user(connection, user_id)

    async def find_live_grant(self, app_id: str, user_id: str) -> Grant | None:
        """The user's unrevoked grant of this app."""
        async with self._db.sessions() as session:
            return await grants.live_grant(session, app_id, user_id)

    async def find_connected_apps(self, user_id: str) -> list[ConnectedApp]:
        """The user's live grants with their apps and when each last got a token."""
        async with self._db.sessions() as session:
            return await grants.connected_apps(session, user_id)
