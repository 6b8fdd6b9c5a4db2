"""Signed webhook deliveries to the vendor's endpoints, written to an outbox in the transaction of the change they announce."""
