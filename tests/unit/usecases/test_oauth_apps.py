"""Registering an app, on a fake writer: what is written, and what never reaches it."""

from __future__ import annotations

from typing import Any, cast

import pytest

from service.domain.accounts import Principal
from service.domain.errors import InvalidParams, RuleViolation
from service.domain.ids import hash_token
from service.domain.redirect_uris import RedirectUriPolicy
from service.persistence.database import Database
from service.usecases.group_commit import AppWriter
from service.usecases.oauth_apps import IssuedApp, register_oauth_app
from tests.unit.usecases.fakes import FakeWriter

CALLER = Principal("JFTcMhEAFbNPfnp49", "math.bar", frozenset({"manage-oauth-apps"}))
NO_DATABASE = cast(Database, None)  # without an Idempotency-Key, registration never reads


async def register(writer: FakeWriter, body: Any) -> IssuedApp:
    outcome = await register_oauth_app(
        NO_DATABASE,
        cast(AppWriter, writer),
        CALLER,
        body=body,
        policy=RedirectUriPolicy.RFC6749,
    )
    assert isinstance(outcome, IssuedApp)
    return outcome


async def test_the_app_its_hashed_secret_and_its_event_are_written_together() -> None:
    writer = FakeWriter()
    issued = await register(
        writer, {"name": "n", "redirectUri": "https://a.test/cb, https://b.test", "active": 1.0}
    )
    [row] = writer.rows
    assert row.oauth_app == issued.oauth_app
    assert row.oauth_app.redirect_uri == "https://a.test/cb,https://b.test"
    assert row.oauth_app.active is True
    assert row.secret_hash == hash_token(issued.client_secret) != issued.client_secret
    assert row.event.subject == issued.oauth_app.id
    assert row.event.document["data"]["application"] == issued.oauth_app.to_document()
    assert issued.client_secret not in str(row.event.document)
    assert row.reservation is None


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "n", "active": True}, InvalidParams),
        ({"name": " ", "redirectUri": "https://a.test", "active": True}, RuleViolation),
        ({"name": "n", "redirectUri": "no-scheme", "active": True}, RuleViolation),
    ],
)
async def test_a_refused_body_writes_nothing(body: dict[str, Any], error: type[Exception]) -> None:
    writer = FakeWriter()
    with pytest.raises(error):
        await register(writer, body)
    assert writer.rows == []
