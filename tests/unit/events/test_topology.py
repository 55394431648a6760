from service.domain.events import EventType
from service.events.topology import CONSUMERS, Topology, consumer_names


def test_topology_names_follow_the_exchange() -> None:
    topology = Topology("oauth_apps")
    audit, notification = topology.queue("audit"), topology.queue("notification")
    assert audit.name == "oauth_apps.audit"
    assert audit.dead_letter_queue == "oauth_apps.audit.dlq"
    assert notification.name == "oauth_apps.notification"
    assert topology.dead_letter_exchange == "oauth_apps.dlx"


def test_audit_hears_every_event_type_and_notification_only_creations() -> None:
    topology = Topology("x")
    assert set(topology.queue("audit").routing_keys) == {event.value for event in EventType}
    assert topology.queue("notification").routing_keys == ("oauth_app.created",)


def test_the_cli_offers_every_declared_consumer() -> None:
    assert consumer_names() == tuple(consumer.name for consumer in CONSUMERS)
    assert set(consumer_names()) == {"audit", "notification"}
