"""Signed webhook deliveries to the vendor's endpoints, from an outbox written with the change they announce."""
