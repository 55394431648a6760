"""Getting events from the outbox to RabbitMQ, and the consumers that act on them."""
