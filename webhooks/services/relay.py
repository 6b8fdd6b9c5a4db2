"""The relay: outbox rows become one delivery per subscribed, enabled endpoint, then are marked relayed.

It runs after each emitting commit and from beat (the sweep), so a crash between a commit and its relay
loses nothing. Concurrent relays skip each other's locked rows, and a (endpoint, event) pair is unique,
so running it twice, or twice at once, creates each delivery once.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from webhooks.models import OutboxEvent, WebhookDelivery, WebhookEndpoint

# Events per relay transaction: a verification sweep of thousands is relayed in a few short
# transactions, each locking only its own rows.
RELAY_CHUNK = 500


def _subscribers(organization_ids: set[int]) -> dict[int, list[WebhookEndpoint]]:
    found: dict[int, list[WebhookEndpoint]] = {org_id: [] for org_id in organization_ids}
    for endpoint in WebhookEndpoint.objects.filter(organization_id__in=organization_ids, enabled=True).order_by("pk"):
        found[endpoint.organization_id].append(endpoint)
    return found


def outbox_relay_chunk(*, now: datetime | None = None) -> int:
    """Relay up to RELAY_CHUNK unrelayed events; returns how many were relayed."""
    now = now or timezone.now()
    with transaction.atomic():
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(relayed_at__isnull=True).order_by("pk")[:RELAY_CHUNK]
        )
        if not events:
            return 0
        endpoints = _subscribers({event.organization_id for event in events})
        deliveries = [
            WebhookDelivery(organization_id=event.organization_id, endpoint=endpoint, event=event,
                            next_attempt_at=now, created_at=now)
            for event in events
            for endpoint in endpoints[event.organization_id]
            if event.type in endpoint.events
        ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        OutboxEvent.objects.filter(pk__in=[event.pk for event in events]).update(relayed_at=now)
        return len(events)


def outbox_relay(*, now: datetime | None = None) -> int:
    """Relay every unrelayed event, chunk by chunk; returns how many were relayed."""
    total = 0
    while True:
        relayed = outbox_relay_chunk(now=now)
        total += relayed
        if relayed < RELAY_CHUNK:
            return total
