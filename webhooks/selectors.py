"""Reads of the webhooks app, always within one organization."""

from django.db.models import Prefetch, QuerySet

from accounts.models import Organization
from core.errors import NotFound
from webhooks.models import DeliveryAttempt, OutboxEvent, WebhookDelivery, WebhookEndpoint

_ATTEMPTS = Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number", "pk"))


def endpoint_list(*, organization: Organization) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization=organization).order_by("pk")


def endpoint_get(*, organization: Organization, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(organization=organization, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id}.", field="id")
    return endpoint


def delivery_list(*, endpoint: WebhookEndpoint, status: str | None = None, before_id: int | None = None,
                  limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's delivery log, newest first, each with its attempts (oldest first); limit + 1 rows are
    read so the caller knows whether a next page follows."""
    rows = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event").prefetch_related(_ATTEMPTS)
    if status:
        rows = rows.filter(status=status)
    if before_id is not None:
        rows = rows.filter(pk__lt=before_id)
    return list(rows.order_by("-pk")[: limit + 1])


def delivery_get(*, endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    """One delivery of this endpoint (itself of the caller's organization), with its attempts."""
    delivery = (WebhookDelivery.objects.filter(endpoint=endpoint, pk=delivery_id).select_related("event", "endpoint")
                .prefetch_related(_ATTEMPTS).first())
    if delivery is None:
        raise NotFound(f"No delivery {delivery_id} of webhook endpoint {endpoint.pk}.", field="delivery_id")
    return delivery


def event_once_keys_existing(*, organization_id: int, keys: list[str]) -> set[str]:
    """Which of these once-keys were already announced (see event_emit's once_key)."""
    return set(OutboxEvent.objects.filter(organization_id=organization_id, once_key__in=keys)
               .values_list("once_key", flat=True))
