import uuid
from datetime import UTC, datetime

import aiormq
import orjson
import pytest

from service.domain.accounts import Actor
from service.domain.backoff import Backoff
from service.domain.events import EventType, app_event
from service.domain.oauth_apps import OAuthApp
from service.events.received import PoisonMessage, parse_event
from service.events.relay import make_room_for_a_wave, message_properties, plan_waves
from service.persistence.outbox import PendingEvent

NOW = datetime(2024, 1, 17, 13, 30, 41, 521000, tzinfo=UTC)
ACTOR = Actor("JFTcMhEAFbNPfnp49", "math.bar")
APP = OAuthApp(
    id="65a7d68142a7e12453052d56",
    name="test-oauth-app",
    redirect_uri="https://testuri.com",
    active=True,
    client_id="bN9D5TjY8Cv8GqWfE",
    created_at=NOW,
    updated_at=NOW,
    created_by=ACTOR,
)


def pending(seq: int, app: str) -> PendingEvent:
    return PendingEvent(seq, uuid.uuid4(), "oauth_app.updated", app, "{}", NOW)


def test_waves_hold_one_event_per_app_in_order() -> None:
    events = [pending(1, "a"), pending(2, "b"), pending(3, "a"), pending(4, "c"), pending(5, "a")]
    waves = plan_waves(events)
    assert [[e.seq for e in wave] for wave in waves] == [[1, 2, 4], [3], [5]]


def test_waves_of_distinct_apps_are_one_wave() -> None:
    events = [pending(n, f"app{n}") for n in range(100)]
    assert plan_waves(events) == [events]
    assert plan_waves([]) == []


def test_event_document_is_a_cloudevent_without_secret() -> None:
    event = app_event(EventType.CREATED, APP, actor=ACTOR, now=NOW)
    assert event.document == {
        "specversion": "1.0",
        "id": str(event.id),
        "source": "/oauth-apps",
        "type": "oauth_app.created",
        "subject": APP.id,
        "time": "2024-01-17T13:30:41.521Z",
        "datacontenttype": "application/json",
        "data": {"application": APP.to_document(), "actor": ACTOR.to_document()},
    }
    assert "clientSecret" not in orjson.dumps(event.document).decode()


def test_message_properties() -> None:
    event = app_event(EventType.CREATED, APP, actor=ACTOR, now=NOW)
    body = orjson.dumps(event.document).decode()
    properties = message_properties(
        PendingEvent(7, event.id, "oauth_app.created", APP.id, body, NOW)
    )
    assert properties.content_type == "application/cloudevents+json"
    assert properties.delivery_mode == 2
    assert properties.message_id == str(event.id)
    assert properties.message_type == "oauth_app.created"
    assert properties.timestamp == NOW


def test_parse_event_round_trip() -> None:
    event = app_event(EventType.CREATED, APP, actor=ACTOR, now=NOW)
    parsed = parse_event(orjson.dumps(event.document))
    assert (parsed.id, parsed.type, parsed.subject, parsed.time) == (
        event.id,
        "oauth_app.created",
        APP.id,
        NOW,
    )
    assert parsed.actor == {"_id": ACTOR.id, "username": ACTOR.username}


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b"{}",
        orjson.dumps(
            {"id": "not-a-uuid", "type": "t", "subject": "s", "time": "2024-01-01T00:00:00Z"}
        ),
        orjson.dumps(
            {"id": str(uuid.uuid4()), "type": "t", "subject": "s", "time": "x", "data": {}}
        ),
        orjson.dumps(
            {
                "id": str(uuid.uuid4()),
                "type": "t",
                "subject": "s",
                "time": "2024-01-01T00:00:00Z",
                "data": {"application": {}, "actor": {}},
            }
        ),
    ],
)
def test_parse_event_refuses_poison(body: bytes) -> None:
    with pytest.raises(PoisonMessage):
        parse_event(body)


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    backoff = Backoff(initial=1.0, cap=8.0)
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_a_whole_wave_fits_in_the_connection_write_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aiormq.Connection, "FRAME_BUFFER_SIZE", 10)
    make_room_for_a_wave(750)
    assert aiormq.Connection.FRAME_BUFFER_SIZE == 750
    make_room_for_a_wave(20)  # never lowered by a smaller batch
    assert aiormq.Connection.FRAME_BUFFER_SIZE == 750
