"""Writes of the webhooks app: emitting events into the outbox, endpoints, relaying and delivering.

Other apps import `event_emit` (and `events_emit` or `events_emit_from_query` for many at once) from here.
"""

from webhooks.services.emit import event_emit, events_emit, events_emit_from_query

__all__ = ["event_emit", "events_emit", "events_emit_from_query"]
