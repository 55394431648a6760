"""The AsyncAPI 3.0 document, generated from the same declarations that run.

``oauth-apps asyncapi > docs/asyncapi.json`` writes it; a test fails when the committed
file differs from what this module generates.
"""

from __future__ import annotations

import re
from typing import Any

from service.domain.events import EVENT_SOURCE, EVENT_SUMMARIES, EventType
from service.domain.ids import RANDOM_ID_LENGTH, UNMISTAKABLE_CHARS
from service.domain.oauth2.keys import SigningAlgorithm
from service.events.relay import CONTENT_TYPE
from service.events.topology import DELIVERY_LIMIT, Topology

AMQP_BINDING = "0.3.0"
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
OBJECT_ID = "^[0-9a-f]{24}$"


def _message_name(event: EventType) -> str:
    """``oauth_app.secret_rotated`` → ``OAuthAppSecretRotated``."""
    words = re.split(r"[._]", event.value)
    return "".join("OAuth" if word == "oauth" else word.title() for word in words)


def _camel(event: EventType) -> str:
    """``oauth_app.secret_rotated`` → ``oauthAppSecretRotated`` (channel and operation keys)."""
    name = _message_name(event)
    return "oauth" + name[5:] if name.startswith("OAuth") else name[0].lower() + name[1:]


def _channel(event: EventType, exchange: str) -> dict[str, Any]:
    return {
        "address": event.value,
        "description": (
            f"Routing key `{event.value}` on the events exchange: the exchange is named by"
            f" `EVENTS_EXCHANGE` (default `{exchange}`), in the vhost of `AMQP_URL`"
            " (default `/`)."
        ),
        "messages": {
            _message_name(event): {"$ref": f"#/components/messages/{_message_name(event)}"}
        },
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": AMQP_BINDING,
            }
        },
    }


# The schema of each kind of subject, by the event type's prefix: a new kind fails here
# until it has its own, rather than being described as another.
_PAYLOADS = {
    "oauth_app": "OAuthAppEvent",
    "oauth_grant": "GrantEvent",
    "permission": "PermissionEvent",
    "signing_key": "SigningKeyEvent",
}


def _payload(event: EventType) -> str:
    """The schema of the event's CloudEvent: one per kind of subject."""
    return _PAYLOADS[event.value.partition(".")[0]]


def _message(event: EventType) -> dict[str, Any]:
    return {
        "name": event.value,
        "title": event.value,
        "summary": EVENT_SUMMARIES[event],
        "contentType": CONTENT_TYPE,
        "payload": {"$ref": f"#/components/schemas/{_payload(event)}"},
        "correlationId": {
            "description": "The AMQP message_id is the CloudEvent id; consumers deduplicate by it.",
            "location": "$message.payload#/id",
        },
        "bindings": {
            "amqp": {
                "contentEncoding": "utf-8",
                "messageType": event.value,
                "bindingVersion": AMQP_BINDING,
            }
        },
    }


def _operations(topology: Topology) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for event in EventType:
        channel = _camel(event)
        operations["publish" + channel[0].upper() + channel[1:]] = {
            "action": "send",
            "summary": (
                f"The outbox relay publishes `{event.value}` after the change commits,"
                " persistent, with `mandatory` and publisher confirms."
            ),
            "channel": {"$ref": f"#/channels/{channel}"},
            "bindings": {
                "amqp": {
                    "deliveryMode": 2,
                    "mandatory": True,
                    "timestamp": True,
                    "ack": False,
                    "bindingVersion": AMQP_BINDING,
                }
            },
        }
    for queue in topology.queues:
        for event in queue.consumer.events:
            channel = _camel(event)
            name = f"{queue.consumer.name}Receive{channel[0].upper()}{channel[1:]}"
            operations[name] = {
                "action": "receive",
                "summary": (
                    f"The {queue.consumer.name} consumer ({queue.consumer.summary}) reads"
                    f" `{event.value}` from quorum queue `{queue.name}`; after"
                    f" {DELIVERY_LIMIT} deliveries a message goes to `{queue.dead_letter_queue}`."
                ),
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{_message_name(event)}"}],
                "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING}},
            }
    return operations


def _cloudevent(name: str, subject: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    types = [event.value for event in EventType if _payload(event) == name]
    return {
        "type": "object",
        "description": "CloudEvents 1.0, structured mode.",
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "data",
        ],
        "additionalProperties": False,
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {
                "type": "string",
                "format": "uuid",
                "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
            },
            "source": {"const": EVENT_SOURCE},
            "type": {"enum": types},
            "subject": subject,
            "time": {"type": "string", "pattern": TIMESTAMP},
            "datacontenttype": {"const": "application/json"},
            "data": data,
        },
    }


def _data(subject: str, **optional: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [subject, "actor"],
        "additionalProperties": False,
        "properties": {
            subject: {"$ref": f"#/components/schemas/{subject.title()}"},
            "actor": {"$ref": "#/components/schemas/Actor"},
            **optional,
        },
    }


def _schemas() -> dict[str, Any]:
    actor = {"$ref": "#/components/schemas/Actor"}
    return {
        "OAuthAppEvent": _cloudevent(
            "OAuthAppEvent",
            {"type": "string", "description": "The app's _id.", "pattern": OBJECT_ID},
            _data(
                "application",
                previousSecretValidUntil={
                    "description": (
                        "oauth_app.secret_rotated only: until when the previous secret still"
                        " authenticates (`graceSeconds`); null when it stopped at once."
                    ),
                    "oneOf": [{"type": "string", "pattern": TIMESTAMP}, {"type": "null"}],
                },
            ),
        ),
        "PermissionEvent": _cloudevent(
            "PermissionEvent",
            {"type": "string", "description": "The permission's _id."},
            _data("permission"),
        ),
        "GrantEvent": _cloudevent(
            "GrantEvent",
            {"type": "string", "description": "The grant's _id.", "pattern": OBJECT_ID},
            _data("grant"),
        ),
        "SigningKeyEvent": _cloudevent(
            "SigningKeyEvent",
            {"type": "string", "description": "The new key's kid."},
            _data("key"),
        ),
        "Key": {
            "type": "object",
            "description": "The new signing key; never key material, public or private.",
            "required": ["kid", "alg", "createdAt"],
            "additionalProperties": False,
            "properties": {
                "kid": {"type": "string"},
                "alg": {"enum": [algorithm.value for algorithm in SigningAlgorithm]},
                "createdAt": {"type": "string", "pattern": TIMESTAMP},
            },
        },
        "Grant": {
            "type": "object",
            "description": "A user's consent to an app; never a token, code or secret.",
            "required": ["_id", "clientId", "userId", "createdAt"],
            "additionalProperties": False,
            "properties": {
                "_id": {"type": "string", "pattern": OBJECT_ID},
                "clientId": {"type": "string"},
                "userId": {"type": "string"},
                "createdAt": {"type": "string", "pattern": TIMESTAMP},
            },
        },
        "Permission": {
            "type": "object",
            "description": "The permission as permissions.listAll shows it.",
            "required": ["_id", "roles", "_updatedAt"],
            "additionalProperties": False,
            "properties": {
                "_id": {"type": "string"},
                "roles": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "_updatedAt": {"type": "string", "pattern": TIMESTAMP},
            },
        },
        "Application": {
            "type": "object",
            "description": "The app as the REST API shows it, without clientSecret.",
            "required": [
                "name",
                "redirectUri",
                "active",
                "clientId",
                "_createdAt",
                "_updatedAt",
                "_createdBy",
                "_id",
            ],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "redirectUri": {
                    "type": "string",
                    "description": "One URI, or several joined with ','.",
                },
                "active": {"type": "boolean"},
                "clientId": {
                    "type": "string",
                    "pattern": f"^[{UNMISTAKABLE_CHARS}]{{{RANDOM_ID_LENGTH}}}$",
                },
                "_createdAt": {"type": "string", "pattern": TIMESTAMP},
                "_updatedAt": {"type": "string", "pattern": TIMESTAMP},
                "_createdBy": actor,
                "_updatedBy": actor,
                "_id": {"type": "string", "pattern": OBJECT_ID},
            },
        },
        "Actor": {
            "type": "object",
            "required": ["_id", "username"],
            "additionalProperties": False,
            "properties": {
                "_id": {
                    "type": ["string", "null"],
                    "description": "null when no user acted (a client registered itself).",
                },
                "username": {"type": "string"},
            },
        },
    }


def asyncapi_document(exchange: str = "oauth_apps") -> dict[str, Any]:
    """Return the AsyncAPI document of the events published to ``exchange``."""
    topology = Topology(exchange)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "oauth-apps events",
            "version": "1.0.0",
            "description": (
                "Events of the oauth-apps service. Each change is written to a transactional"
                " outbox in the transaction of the change, and published by the relay to a"
                " durable topic exchange (`EVENTS_EXCHANGE`, default"
                f" `{exchange}`): persistent, at least once, in order per app. Consumers"
                " deduplicate by the CloudEvent `id`, which is also the AMQP `message_id`."
                " No event ever carries a client secret."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "broker": {
                "host": "{host}",
                "pathname": "/{vhost}",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ, as AMQP_URL names it (docker-compose: rabbitmq:5672).",
                "variables": {
                    "host": {"default": "localhost:5672"},
                    "vhost": {"default": "%2F", "description": "The vhost of AMQP_URL."},
                },
            }
        },
        "channels": {_camel(event): _channel(event, exchange) for event in EventType},
        "operations": _operations(topology),
        "components": {
            "messages": {_message_name(event): _message(event) for event in EventType},
            "schemas": _schemas(),
        },
    }
