"""The authorization server's rules on a fake store: reuse, replay, revocation, consent."""

from __future__ import annotations

import dataclasses

import pytest

from service.domain.accounts import Actor, Principal
from service.domain.events import EventType
from service.domain.ids import hash_token
from service.domain.oauth2.authorization import AuthorizationRequest
from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import InvalidGrant, UnauthorizedClient, UnsupportedGrantType
from service.domain.oauth2.pkce import s256_challenge
from service.domain.oauth2.tokens import IssuedTokens
from service.usecases.oauth2 import consent, introspection
from service.usecases.oauth2.grant_types import GRANT_TYPES, issue_tokens
from service.usecases.oauth2.revocation import revoke_app_grants
from service.usecases.oauth2.stores import OAuth2Services
from service.usecases.oauth2.token_requests import TokenRequest
from tests.unit.usecases.oauth2.fakes import FakeStore, fake_services

VERIFIER = "v" * 43
USER = Principal("u" * 17, "alice", frozenset())
OTHER_USER = Principal("w" * 17, "bob", frozenset())
CLIENT = Client("a" * 24, "client-a", "App A", ("https://a.test/cb",), True, hash_token("s"))
OTHER_CLIENT = Client("b" * 24, "client-b", "App B", ("https://b.test/cb",), True, hash_token("s"))


@pytest.fixture
def services() -> tuple[OAuth2Services, FakeStore]:
    services, store = fake_services()
    for client in (CLIENT, OTHER_CLIENT):
        store.tables.clients[client.client_id] = client
    for user in (USER, OTHER_USER):
        store.tables.users[user.id] = user
    return services, store


def request_for(client: Client) -> AuthorizationRequest:
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=client.redirect_uris[0],
        redirect_uri_sent=True,
        state=None,
        code_challenge=s256_challenge(VERIFIER),
    )


async def exchange(services: OAuth2Services, client: Client, **params: str) -> IssuedTokens:
    issued = await issue_tokens(services, client, TokenRequest(client, params))
    return issued.tokens


async def code_exchange(services: OAuth2Services, code: str) -> IssuedTokens:
    return await exchange(
        services,
        CLIENT,
        grant_type="authorization_code",
        code=code,
        redirect_uri=CLIENT.redirect_uris[0],
        code_verifier=VERIFIER,
    )


async def active(services: OAuth2Services, token: str) -> bool:
    answer = await introspection.introspect(services, token, client=None)
    return bool(answer["active"])


def event_types(store: FakeStore) -> list[EventType]:
    return [event.type for event in store.tables.events]


async def test_a_code_used_twice_revokes_what_it_issued_and_the_grant(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, store = services
    code = await consent.approve(oauth2, CLIENT, USER, request_for(CLIENT))
    issued = await code_exchange(oauth2, code)
    assert await active(oauth2, issued.access_token)

    with pytest.raises(InvalidGrant, match="already used"):
        await code_exchange(oauth2, code)

    assert not await active(oauth2, issued.access_token)
    assert not await active(oauth2, issued.refresh_token)
    assert event_types(store) == [EventType.GRANT_CREATED, EventType.GRANT_REVOKED]
    assert (
        store.tables.events[-1].document["data"]["actor"]
        == Actor(CLIENT.client_id, CLIENT.name).to_document()
    )


async def test_a_refused_code_is_not_spent(services: tuple[OAuth2Services, FakeStore]) -> None:
    oauth2, _ = services
    code = await consent.approve(oauth2, CLIENT, USER, request_for(CLIENT))
    with pytest.raises(InvalidGrant, match="code_verifier"):
        await exchange(
            oauth2,
            CLIENT,
            grant_type="authorization_code",
            code=code,
            redirect_uri=CLIENT.redirect_uris[0],
            code_verifier="x" * 43,
        )
    # The failed attempt rolled back: the right verifier still works, once.
    assert await active(oauth2, (await code_exchange(oauth2, code)).access_token)


async def test_a_refresh_token_presented_again_revokes_the_family(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, store = services
    first = await code_exchange(
        oauth2, await consent.approve(oauth2, CLIENT, USER, request_for(CLIENT))
    )
    second = await exchange(
        oauth2, CLIENT, grant_type="refresh_token", refresh_token=first.refresh_token
    )
    assert not await active(oauth2, first.access_token)  # rotation retires the old pair
    assert await active(oauth2, second.access_token)

    with pytest.raises(InvalidGrant, match="already used"):
        await exchange(
            oauth2, CLIENT, grant_type="refresh_token", refresh_token=first.refresh_token
        )

    assert not await active(oauth2, second.access_token)
    assert not await active(oauth2, second.refresh_token)
    assert event_types(store)[-1] is EventType.GRANT_REVOKED


async def test_another_clients_refresh_token_is_refused_and_left_alone(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, _ = services
    issued = await code_exchange(
        oauth2, await consent.approve(oauth2, CLIENT, USER, request_for(CLIENT))
    )
    with pytest.raises(InvalidGrant, match="not valid for this client"):
        await exchange(
            oauth2, OTHER_CLIENT, grant_type="refresh_token", refresh_token=issued.refresh_token
        )
    assert await active(oauth2, issued.refresh_token)


async def test_deleting_an_app_revokes_its_grants_and_tokens_only(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, store = services
    mine = await code_exchange(
        oauth2, await consent.approve(oauth2, CLIENT, USER, request_for(CLIENT))
    )
    await consent.approve(oauth2, CLIENT, OTHER_USER, request_for(CLIENT))
    await consent.approve(oauth2, OTHER_CLIENT, USER, request_for(OTHER_CLIENT))
    admin = Actor("z" * 17, "admin")

    async with store.transaction() as tx:
        await revoke_app_grants(tx, CLIENT.app_id, admin)

    assert not await active(oauth2, mine.access_token)
    revoked = [event for event in store.tables.events if event.type is EventType.GRANT_REVOKED]
    assert len(revoked) == 2
    assert {event.document["data"]["actor"]["_id"] for event in revoked} == {admin.id}
    assert await consent.has_live_grant(oauth2, OTHER_CLIENT, USER.id)


async def test_consent_is_remembered_per_client_and_user(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, store = services
    assert not await consent.has_live_grant(oauth2, CLIENT, USER.id)
    await consent.approve(oauth2, CLIENT, USER, request_for(CLIENT))
    await consent.approve(oauth2, CLIENT, USER, request_for(CLIENT))  # the same grant again

    assert await consent.has_live_grant(oauth2, CLIENT, USER.id)
    assert not await consent.has_live_grant(oauth2, OTHER_CLIENT, USER.id)
    assert not await consent.has_live_grant(oauth2, CLIENT, OTHER_USER.id)
    assert event_types(store) == [EventType.GRANT_CREATED]  # a first grant only


async def test_every_registered_grant_type_is_dispatched_and_others_are_unsupported(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, _ = services
    assert set(GRANT_TYPES) == {"authorization_code", "refresh_token", "client_credentials"}
    for name in ("authorization_code", "refresh_token"):
        # Each reaches its own grant, which then asks for its own parameter.
        with pytest.raises(Exception, match="is required"):
            await exchange(oauth2, CLIENT, grant_type=name)
    # Known, but not among this client's grant types.
    with pytest.raises(UnauthorizedClient):
        await exchange(oauth2, CLIENT, grant_type="client_credentials")
    with pytest.raises(UnsupportedGrantType):
        await exchange(oauth2, CLIENT, grant_type="password")


async def test_a_code_without_pkce_is_refused_once_the_client_requires_pkce(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, _ = services
    lax = dataclasses.replace(CLIENT, require_pkce=False)
    request = dataclasses.replace(request_for(lax), code_challenge=None)
    code = await consent.approve(oauth2, lax, USER, request)
    strict = dataclasses.replace(CLIENT, require_pkce=True)
    with pytest.raises(InvalidGrant, match="needs PKCE"):
        await exchange(
            oauth2,
            strict,
            grant_type="authorization_code",
            code=code,
            redirect_uri=CLIENT.redirect_uris[0],
        )
