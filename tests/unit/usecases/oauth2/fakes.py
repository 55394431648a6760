"""The authorization server's store on dictionaries, for unit tests of its use cases.

A transaction works on copies and writes them back only when its block ends
without an exception, as a database transaction would commit or roll back.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from service.domain.accounts import Principal
from service.domain.events import Event
from service.domain.oauth2.clients import Client
from service.domain.oauth2.grants import ConnectedApp, Grant
from service.domain.oauth2.keys import SigningAlgorithm, SigningKey
from service.domain.oauth2.scopes import parse_scope
from service.domain.oauth2.sessions import WebSession
from service.domain.oauth2.tokens import (
    NewToken,
    Rotated,
    Rotation,
    StoredCode,
    StoredToken,
    TokenKind,
    TokenUser,
)
from service.domain.timestamps import utc_now
from service.usecases.oauth2.keys import KeyRing, KeySeal, new_signing_key
from service.usecases.oauth2.stores import OAuth2Services
from tests.support.processes import TEST_SECRET_KEY


@dataclass
class _Row:
    token: NewToken
    used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass
class Tables:
    """What the fake database holds."""

    clients: dict[str, Client] = field(default_factory=dict)
    users: dict[str, Principal] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    revoked_grants: dict[str, datetime] = field(default_factory=dict)
    codes: dict[str, StoredCode] = field(default_factory=dict)
    tokens: dict[str, _Row] = field(default_factory=dict)
    sessions: dict[str, WebSession] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


class FakeTransaction:
    """The writes of one transaction, on a copy of the tables."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    async def live_grant(self, app_id: str, user_id: str | None) -> Grant | None:
        return next(
            (
                grant
                for grant in self.tables.grants.values()
                if grant.app_id == app_id
                and grant.user_id == user_id
                and grant.id not in self.tables.revoked_grants
            ),
            None,
        )

    async def live_grants_of_app(self, app_id: str) -> list[Grant]:
        return [
            grant
            for grant in self.tables.grants.values()
            if grant.app_id == app_id and grant.id not in self.tables.revoked_grants
        ]

    async def live_grant_of_user(self, grant_id: str, user_id: str) -> Grant | None:
        grant = self.tables.grants.get(grant_id)
        if grant is None or grant.user_id != user_id or grant_id in self.tables.revoked_grants:
            return None
        return grant

    async def insert_grant(self, grant: Grant) -> bool:
        if grant.user_id is not None and await self.live_grant(grant.app_id, grant.user_id):
            return False
        self.tables.grants[grant.id] = grant
        return True

    async def widen_grant(self, grant_id: str, scope: frozenset[str]) -> None:
        self.tables.grants[grant_id] = dataclasses.replace(
            self.tables.grants[grant_id], scope=scope
        )

    async def revoke_grant(self, grant_id: str, now: datetime) -> bool:
        for row in self.tables.tokens.values():
            if row.token.grant_id == grant_id and row.revoked_at is None:
                row.revoked_at = now
        if grant_id in self.tables.revoked_grants:
            return False
        self.tables.revoked_grants[grant_id] = now
        return True

    async def insert_code(self, code_hash: str, code: StoredCode) -> None:
        self.tables.codes[code_hash] = code

    async def take_code(self, code_hash: str, now: datetime) -> StoredCode | None:
        code = self.tables.codes.get(code_hash)
        if code is not None and code.used_at is None:
            self.tables.codes[code_hash] = dataclasses.replace(code, used_at=now)
        return code

    async def insert_token(self, token: NewToken) -> None:
        self.tables.tokens[token.token_hash] = _Row(token)

    async def locked_token(self, token_hash: str) -> StoredToken | None:
        return stored_token(self.tables, token_hash)

    async def revoke_token(self, token_hash: str, now: datetime) -> None:
        self._revoke(lambda row: row.token.token_hash == token_hash, now)

    async def revoke_family(self, family: str, now: datetime) -> None:
        self._revoke(lambda row: row.token.family == family, now)

    async def revoke_issued_from_code(self, code_hash: str, now: datetime) -> None:
        families = {
            row.token.family
            for row in self.tables.tokens.values()
            if row.token.code_hash == code_hash
        }
        self._revoke(lambda row: row.token.family in families, now)

    async def insert_session(
        self, session_hash: str, web_session: WebSession, expires_at: datetime
    ) -> None:
        self.tables.sessions[session_hash] = web_session

    async def delete_session(self, session_hash: str) -> None:
        self.tables.sessions.pop(session_hash, None)

    async def add_event(self, event: Event) -> None:
        self.tables.events.append(event)

    def _revoke(self, which: object, now: datetime) -> None:
        for row in self.tables.tokens.values():
            if which(row) and row.revoked_at is None:  # type: ignore[operator]
                row.revoked_at = now


def stored_token(tables: Tables, token_hash: str) -> StoredToken | None:
    """A token as the SQL store would read it, joined with its grant, app and user."""
    row = tables.tokens.get(token_hash)
    if row is None:
        return None
    grant = tables.grants[row.token.grant_id]
    client = next(c for c in tables.clients.values() if c.app_id == grant.app_id)
    user = tables.users.get(grant.user_id) if grant.user_id else None
    return StoredToken(
        kind=row.token.kind,
        grant=grant,
        family=row.token.family,
        app_active=client.active,
        user_active=user is not None or grant.user_id is None,
        created_at=row.token.created_at,
        expires_at=row.token.expires_at,
        used_at=row.used_at,
        revoked_at=row.revoked_at or tables.revoked_grants.get(grant.id),
        scope=row.token.scope,
        auth_time=row.token.auth_time,
        user=TokenUser(user.id, user.username) if user else None,
    )


class FakeStore:
    """Reads and transactions on ``Tables``."""

    def __init__(self) -> None:
        self.tables = Tables()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTransaction]:
        working = copy.deepcopy(self.tables)
        yield FakeTransaction(working)
        self.tables = working  # committed only when the block ended without an exception

    async def find_client(self, client_id: str) -> Client | None:
        return self.tables.clients.get(client_id)

    async def find_token(self, token_hash: str) -> StoredToken | None:
        return stored_token(self.tables, token_hash)

    async def find_public_redirect_uris(self) -> list[str]:
        return [
            uri
            for client in self.tables.clients.values()
            if client.active and client.is_public
            for uri in client.redirect_uris
        ]

    async def find_session(self, session_hash: str) -> WebSession | None:
        return self.tables.sessions.get(session_hash)

    async def find_active_user(self, user_id: str) -> Principal | None:
        return self.tables.users.get(user_id)

    async def find_live_grant(self, app_id: str, user_id: str) -> Grant | None:
        return await FakeTransaction(self.tables).live_grant(app_id, user_id)

    async def find_connected_apps(self, user_id: str) -> list[ConnectedApp]:
        clients = {client.app_id: client for client in self.tables.clients.values()}
        live = [
            grant
            for grant in self.tables.grants.values()
            if grant.user_id == user_id and grant.id not in self.tables.revoked_grants
        ]
        return [
            ConnectedApp(
                grant,
                clients[grant.app_id].name,
                clients[grant.app_id].logo_uri,
                max(
                    (
                        row.token.created_at
                        for row in self.tables.tokens.values()
                        if row.token.grant_id == grant.id
                    ),
                    default=None,
                ),
            )
            for grant in sorted(live, key=lambda grant: grant.created_at, reverse=True)
        ]


class FakeTokenStatements:
    """The batched statements, one at a time: a rotation as ``_ROTATE`` does it."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def rotate(self, rotation: Rotation) -> Rotated | None:
        tables = self.store.tables
        stored = stored_token(tables, rotation.refresh_hash)
        if (
            stored is None
            or stored.user is None
            or stored.kind is not TokenKind.REFRESH
            or stored.used_at is not None
            or not stored.usable(rotation.now)
            or stored.grant.client_id != rotation.client_id
        ):
            return None
        used = tables.tokens[rotation.refresh_hash]
        used.used_at = used.revoked_at = rotation.now
        for row in tables.tokens.values():
            if row.token.family == stored.family and row.revoked_at is None:
                row.revoked_at = rotation.now
        access_scope = parse_scope(rotation.access_scope) if rotation.access_scope else stored.scope
        for token_hash, kind, expires_at, scope in (
            (rotation.access_hash, TokenKind.ACCESS, rotation.access_expires_at, access_scope),
            (
                rotation.new_refresh_hash,
                TokenKind.REFRESH,
                rotation.refresh_expires_at,
                stored.scope,
            ),
        ):
            tables.tokens[token_hash] = _Row(
                NewToken(
                    token_hash,
                    kind,
                    stored.grant.id,
                    stored.family,
                    None,
                    rotation.now,
                    expires_at,
                    scope,
                    stored.auth_time,
                )
            )
        return Rotated(stored.scope, stored.user, stored.auth_time)

    async def look_up(self, token_hash: str) -> StoredToken | None:
        return stored_token(self.store.tables, token_hash)


@functools.cache
def _signing_key() -> SigningKey:
    # One for every test: an RSA key takes a tenth of a second to make.
    return new_signing_key(SigningAlgorithm.RS256, KeySeal(TEST_SECRET_KEY), utc_now())


def key_ring(*keys: SigningKey) -> KeyRing:
    """A real key ring holding ``keys`` (newest first; by default one RS256 key), not reloading."""
    held = list(keys) or [_signing_key()]

    async def load() -> list[SigningKey]:
        return held

    ring = KeyRing(KeySeal(TEST_SECRET_KEY), load)
    ring.use(held)
    return ring


def fake_services() -> tuple[OAuth2Services, FakeStore]:
    """Services on a fresh fake store, with a real key ring on an in-memory key."""
    store = FakeStore()
    services = OAuth2Services(store=store, tokens=FakeTokenStatements(store), keys=key_ring())
    return services, store
