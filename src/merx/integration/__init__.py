"""Integration hub: relays the outbox to webhooks and NATS JetStream, runs inbound/outbound connectors."""
