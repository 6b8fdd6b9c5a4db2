"""The vendor's endpoints: subscribe, change, disable, delete, and resend a delivery."""

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from core.crypto import secret_encrypt
from core.errors import DomainError, InvalidState
from webhooks.events import EVENT_TYPES
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.network import url_refusal
from webhooks.tasks import webhooks_dispatch_task


def secret_new() -> str:
    """A Standard Webhooks signing secret: "whsec_" and 24 random bytes in base64 (192 bits)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _events_clean(events: Sequence[str]) -> list[str]:
    if not events:
        raise DomainError("Subscribe to at least one event type.", field="events")
    unknown = sorted({event for event in events if event not in EVENT_TYPES})
    if unknown:
        raise DomainError(f"Unknown event types: {', '.join(unknown)}. Known: {', '.join(sorted(EVENT_TYPES))}.",
                          field="events")
    return sorted(set(events))


def _url_clean(url: str) -> str:
    refusal = url_refusal(url)
    if refusal:
        raise DomainError(refusal, field="url")
    return url


def endpoint_create(*, organization: Organization, url: str, events: Sequence[str],
                    description: str = "") -> WebhookEndpoint:
    """Subscribe a URL; its secret is on the returned endpoint, to show once."""
    return WebhookEndpoint.objects.create(
        organization=organization, url=_url_clean(url), events=_events_clean(events), description=description,
        secret_encrypted=secret_encrypt(secret_new()),
    )


def endpoint_update(*, endpoint: WebhookEndpoint, url: str | None = None, events: Sequence[str] | None = None,
                    description: str | None = None, enabled: bool | None = None) -> WebhookEndpoint:
    """Change what the vendor may change. Enabling clears the reason it was disabled; deliveries still
    pending go out again from then on (those that had failed for good can be resent)."""
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if url is not None:
            current.url = _url_clean(url)
        if events is not None:
            current.events = _events_clean(events)
        if description is not None:
            current.description = description
        if enabled is not None and enabled != current.enabled:
            current.enabled = enabled
            current.disabled_at = None if enabled else timezone.now()
            current.disabled_reason = "" if enabled else "Disabled by the vendor."
        current.save()
        return current


def endpoint_disable(*, endpoint_id: int, reason: str, now: datetime | None = None) -> bool:
    """Disable an endpoint (by the delivery machinery); True when it was enabled until now."""
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        if not current.enabled:
            return False
        current.enabled, current.disabled_at, current.disabled_reason = False, now or timezone.now(), reason[:300]
        current.save(update_fields=["enabled", "disabled_at", "disabled_reason", "updated_at"])
        return True


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its delivery log; the events themselves stay in the outbox."""
    endpoint.delete()


def dispatch_on_commit() -> None:
    transaction.on_commit(webhooks_dispatch_task.delay)


def delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again with the same event id, on a fresh retry schedule."""
    with transaction.atomic():
        current = WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
        if not current.endpoint.enabled:
            raise InvalidState("The endpoint is disabled; enable it before resending.", field="endpoint")
        current.status, current.attempts = WebhookDelivery.Status.PENDING, 0
        current.next_attempt_at, current.lease_token = timezone.now(), ""
        current.save(update_fields=["status", "attempts", "next_attempt_at", "lease_token", "updated_at"])
        dispatch_on_commit()
        return current
