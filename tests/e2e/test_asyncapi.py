"""The AsyncAPI document describes what the relay really publishes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson

from service.config import Settings
from service.domain.accounts import Actor
from service.domain.events import EventType, permission_event
from service.events.asyncapi import asyncapi_document
from service.events.topology import Topology
from tests.conftest import start_client
from tests.support.broker import Observer
from tests.support.processes import Stack

DOCUMENT = json.loads((Path(__file__).parents[2] / "docs" / "asyncapi.json").read_text())


def payload_validator(name: str = "OAuthAppEvent") -> jsonschema.Draft202012Validator:
    # The whole document is the root, so "#/components/schemas/..." references resolve.
    schema: dict[str, Any] = DOCUMENT | {"$ref": f"#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema)


def test_a_permission_event_validates_against_its_schema() -> None:
    event = permission_event(
        {"_id": "manage-oauth-apps", "roles": ["admin"], "_updatedAt": "2024-01-17T13:30:41.521Z"},
        actor=Actor("JFTcMhEAFbNPfnp49", "math.bar"),
        now=datetime(2024, 1, 17, tzinfo=UTC),
    )
    document = orjson.loads(orjson.dumps(event.document))
    payload_validator("PermissionEvent").validate(document)
    assert not payload_validator("OAuthAppEvent").is_valid(document)


def test_the_committed_document_is_the_generated_one() -> None:
    # Regenerate with: .venv/bin/oauth-apps asyncapi > docs/asyncapi.json
    assert asyncapi_document() == DOCUMENT


def test_document_matches_the_declared_topology() -> None:
    assert DOCUMENT["asyncapi"] == "3.0.0"
    channels = DOCUMENT["channels"].values()
    assert {channel["address"] for channel in channels} == {t.value for t in EventType}
    assert {channel["bindings"]["amqp"]["exchange"]["name"] for channel in channels} == {
        Settings.__dataclass_fields__["events_exchange"].default
    }
    summaries = " ".join(op["summary"] for op in DOCUMENT["operations"].values())
    topology = Topology("oauth_apps")
    for spec in topology.queues:
        assert f"`{spec.name}`" in summaries and f"`{spec.dead_letter_queue}`" in summaries


async def test_a_real_event_validates_against_the_document(
    stack: Stack, observer: Observer, settings: Settings, admin: dict[str, str]
) -> None:
    await stack.start("relay", "relay")
    client = await start_client(settings)
    try:
        body = {"name": "described", "active": True, "redirectUri": "https://a.test"}
        assert (
            await client.post("/api/v1/oauth-apps.create", json=body, headers=admin)
        ).status == 200
    finally:
        await client.close()
    [message] = await observer.wait_for(1)
    assert message.content_encoding == "utf-8"  # as the document promises
    event = orjson.loads(message.body)
    payload_validator().validate(event)
    # The schema would catch a leaked secret: the application object admits no other key.
    leaked = event | {
        "data": event["data"]
        | {"application": event["data"]["application"] | {"clientSecret": "x"}}
    }
    assert not payload_validator().is_valid(leaked)
