"""client_credentials and public clients on the fake store: tokens, grants, authentication."""

from __future__ import annotations

import dataclasses

import pytest

from service.domain.accounts import Principal
from service.domain.events import EventType
from service.domain.ids import hash_token
from service.domain.oauth2.clients import NO_SECRET_HASH, PUBLIC_AUTH_METHODS, Client
from service.domain.oauth2.errors import InvalidClient, InvalidGrant, InvalidScope
from service.domain.oauth2.grants import Grant
from service.domain.oauth2.tokens import CODE_LIFETIME, StoredCode
from service.domain.timestamps import utc_now
from service.usecases.oauth2 import bearer, introspection, revocation
from service.usecases.oauth2.client_authentication import authenticate_client
from service.usecases.oauth2.grant_types import issue_tokens
from service.usecases.oauth2.origins import is_app_origin
from service.usecases.oauth2.stores import OAuth2Services
from service.usecases.oauth2.token_requests import TokenRequest
from tests.unit.usecases.oauth2.fakes import FakeStore, fake_services

MACHINE = Client(
    "m" * 24,
    "machine",
    "Machine",
    ("https://m.test/cb",),
    True,
    hash_token("s"),
    grant_types=frozenset({"client_credentials"}),
    scopes=frozenset({"openid", "profile", "email", "offline_access", "api"}),
)
PUBLIC = Client(
    "p" * 24,
    "spa",
    "SPA",
    ("https://spa.test/cb", "http://127.0.0.1/cb", "com.example.app:/cb"),
    True,
    NO_SECRET_HASH,
    auth_methods=PUBLIC_AUTH_METHODS,
)
USER = Principal("u" * 17, "alice", frozenset())


@pytest.fixture
def services() -> tuple[OAuth2Services, FakeStore]:
    services, store = fake_services()
    for client in (MACHINE, PUBLIC):
        store.tables.clients[client.client_id] = client
    store.tables.users[USER.id] = USER
    return services, store


async def machine_token(services: OAuth2Services, **params: str) -> dict[str, object]:
    request = TokenRequest(MACHINE, {"grant_type": "client_credentials", **params})
    issued = await issue_tokens(services, MACHINE, request)
    assert issued.grant_type == "client_credentials"
    return issued.tokens.to_document()


async def test_client_credentials_issues_an_access_token_only(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, _ = services
    document = await machine_token(oauth2)
    # The app's scopes without those that only mean something for a user.
    assert document["scope"] == "profile email"
    assert set(document) == {"access_token", "token_type", "expires_in", "scope"}
    assert (await machine_token(oauth2, scope="email"))["scope"] == "email"


@pytest.mark.parametrize("scope", ["openid", "api", "offline_access", "email unknown"])
async def test_client_credentials_refuses_user_scopes(
    services: tuple[OAuth2Services, FakeStore], scope: str
) -> None:
    oauth2, _ = services
    with pytest.raises(InvalidScope):
        await machine_token(oauth2, scope=scope)


async def test_client_credentials_reuses_one_userless_grant(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, store = services
    await machine_token(oauth2, scope="email")
    await machine_token(oauth2, scope="profile")
    (grant,) = store.tables.grants.values()
    assert grant.user_id is None and grant.scope == {"email", "profile"}
    assert [event.type for event in store.tables.events] == [EventType.GRANT_CREATED]


async def test_a_machine_token_names_its_client_and_is_no_user(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, _ = services
    token = str((await machine_token(oauth2))["access_token"])
    answer = await introspection.introspect(oauth2, token, client=MACHINE)
    assert answer["active"] and answer["sub"] == "machine" and answer["client_id"] == "machine"
    assert await bearer.bearer_user(oauth2, token) is None
    assert await bearer.bearer_principal(oauth2, token) is None  # /api/v1 answers 401
    await revocation.revoke(oauth2, MACHINE, token)
    assert not (await introspection.introspect(oauth2, token, client=None))["active"]


async def test_a_public_client_authenticates_with_its_client_id_alone(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, _ = services
    assert await authenticate_client(oauth2, "spa", None) == PUBLIC
    assert await authenticate_client(oauth2, "spa", "") == PUBLIC  # Basic "spa:"
    for client_id, secret in (("spa", "s"), ("spa", NO_SECRET_HASH + "x"), ("machine", None)):
        with pytest.raises(InvalidClient):
            await authenticate_client(oauth2, client_id, secret)
    with pytest.raises(InvalidClient):
        await introspection.introspect(oauth2, "t" * 43, client=PUBLIC)


async def test_an_inactive_public_client_is_refused(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, store = services
    store.tables.clients["spa"] = dataclasses.replace(PUBLIC, active=False)
    with pytest.raises(InvalidClient):
        await authenticate_client(oauth2, "spa", None)


async def test_a_public_clients_code_without_pkce_is_refused(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    # A code from before the app became public: only PKCE could bind it to the client.
    oauth2, store = services
    grant = Grant("g" * 24, PUBLIC.app_id, "spa", USER.id, utc_now())
    async with store.transaction() as tx:
        await tx.insert_grant(grant)
        await tx.insert_code(
            hash_token("code"),
            StoredCode(grant, PUBLIC.redirect_uris[0], True, None, utc_now() + CODE_LIFETIME, None),
        )
    params = {
        "grant_type": "authorization_code",
        "code": "code",
        "redirect_uri": "https://spa.test/cb",
    }
    request = TokenRequest(PUBLIC, params)
    with pytest.raises(InvalidGrant, match="needs PKCE"):
        await issue_tokens(oauth2, PUBLIC, request)


async def test_the_origins_of_public_clients_may_call_from_a_browser(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, _ = services
    assert await is_app_origin(oauth2, "https://spa.test")
    assert await is_app_origin(oauth2, "http://127.0.0.1:49152")  # a loopback URI, any port
    assert not await is_app_origin(oauth2, "https://m.test")  # a confidential client's
    assert not await is_app_origin(oauth2, "null")
