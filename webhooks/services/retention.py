"""Retention: events and their delivery logs are kept WEBHOOKS_RETENTION_DAYS, then deleted by beat."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webhooks.models import OutboxEvent, WebhookDelivery

# Events deleted per transaction: a month of a busy organization goes in short transactions.
PRUNE_CHUNK = 5000


def outbox_prune(*, now: datetime | None = None) -> int:
    """Delete events older than the retention, relayed and with no delivery still pending, with their
    deliveries and attempts (cascade). Returns how many events were deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOKS_RETENTION_DAYS)
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                OutboxEvent.objects.filter(created_at__lt=cutoff, relayed_at__isnull=False)
                .exclude(pk__in=WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
                         .values("event_id"))
                .order_by("pk").values_list("pk", flat=True)[:PRUNE_CHUNK]
            )
            if not ids:
                return deleted
            OutboxEvent.objects.filter(pk__in=ids).delete()
            deleted += len(ids)
