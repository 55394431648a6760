"""The account page's use case on a fake store: the user's apps, and only their own revoked."""

from __future__ import annotations

from service.domain.events import EventType
from service.usecases.oauth2 import connected_apps, consent
from service.usecases.oauth2.stores import OAuth2Services
from tests.unit.usecases.oauth2.fakes import FakeStore
from tests.unit.usecases.oauth2.test_grants import (
    CLIENT,
    OTHER_USER,
    USER,
    active,
    code_exchange,
    request_for,
    services,
)

__all__ = ["services"]  # the fixture, shared


async def test_a_user_sees_the_app_and_when_it_was_last_used(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, _ = services
    assert await connected_apps.connected_apps(oauth2, USER.id) == []
    tokens = await code_exchange(
        oauth2, await consent.approve(oauth2, CLIENT, USER, request_for(CLIENT))
    )
    [app] = await connected_apps.connected_apps(oauth2, USER.id)
    assert app.name == "App A" and app.last_used is not None
    assert app.last_used >= app.grant.created_at
    assert await connected_apps.connected_apps(oauth2, OTHER_USER.id) == []
    assert await active(oauth2, tokens.access_token)


async def test_only_the_users_own_grant_is_revoked_with_the_user_as_actor(
    services: tuple[OAuth2Services, FakeStore],
) -> None:
    oauth2, store = services
    tokens = await code_exchange(
        oauth2, await consent.approve(oauth2, CLIENT, USER, request_for(CLIENT))
    )
    [app] = await connected_apps.connected_apps(oauth2, USER.id)
    assert not await connected_apps.disconnect(oauth2, OTHER_USER, app.grant.id)
    assert await active(oauth2, tokens.access_token)
    assert await connected_apps.disconnect(oauth2, USER, app.grant.id)
    assert not await active(oauth2, tokens.access_token)
    assert not await active(oauth2, tokens.refresh_token or "")
    [event] = [e for e in store.tables.events if e.type is EventType.GRANT_REVOKED]
    assert event.document["data"]["actor"] == {"_id": USER.id, "username": "alice"}
    assert await connected_apps.connected_apps(oauth2, USER.id) == []
    assert not await connected_apps.disconnect(oauth2, USER, app.grant.id)  # once only
