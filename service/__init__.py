"""OAuth-apps service: Rocket.Chat-compatible OAuth client registry with an event outbox."""
