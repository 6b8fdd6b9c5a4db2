"""Delivery: the dispatcher queues due deliveries, an attempt claims one, signs and posts it, and logs it.

At least once: an attempt claims its row with a lease (`next_attempt_at` pushed past its timeout), so a
worker killed mid-request leaves the row due again when the lease runs out, and the next dispatch sends
the same event id again. A receiver dedupes on the `webhook-id` header (the event's id).
"""

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
import urllib3
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.models import User
from webhooks.models import DeliveryAttempt, OutboxEvent, WebhookDelivery, WebhookEndpoint
from webhooks.network import guarded_session
from webhooks.services.endpoints import endpoint_disable
from webhooks.tasks import webhooks_deliver_task

logger = logging.getLogger(__name__)

# Deliveries queued per dispatch transaction: a backlog after an outage drains in short transactions.
DISPATCH_CHUNK = 500
# A queued attempt not started within this long is queued again (its old task, once it runs, finds its
# token stale and does nothing): a lost broker message delays a delivery by this much, never forever.
QUEUE_LEASE = timedelta(minutes=5)
RESPONSE_EXCERPT_CHARS = 500
USER_AGENT = "Tally-Webhooks/1.0"


def max_attempts() -> int:
    return len(settings.WEBHOOKS_RETRY_DELAYS) + 1


def _attempt_lease() -> timedelta:
    # Connect plus read timeouts, and a margin for signing and logging: a live attempt never outlasts it.
    return timedelta(seconds=2 * settings.WEBHOOKS_TIMEOUT_SECONDS + 5)


def deliveries_dispatch_due(*, now: datetime | None = None) -> int:
    """Queue an attempt for each pending delivery that is due (enabled endpoints only); returns how many."""
    total = 0
    while True:
        queued = _dispatch_chunk(now=now or timezone.now())
        total += queued
        if queued < DISPATCH_CHUNK:
            return total


def _dispatch_chunk(*, now: datetime) -> int:
    queued: list[tuple[int, str]] = []
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now, endpoint__enabled=True)
            .order_by("next_attempt_at", "pk")[:DISPATCH_CHUNK]
        )
        for delivery in due:
            delivery.lease_token = uuid.uuid4().hex
            delivery.next_attempt_at = now + QUEUE_LEASE
            queued.append((delivery.pk, delivery.lease_token))
        WebhookDelivery.objects.bulk_update(due, ["lease_token", "next_attempt_at"])
        transaction.on_commit(lambda: _queue(queued))
    return len(queued)


def _queue(queued: list[tuple[int, str]]) -> None:
    for pk, token in queued:
        webhooks_deliver_task.delay(pk, token)


def payload_body(event: OutboxEvent) -> str:
    """The body of every attempt of this event: the Standard Webhooks shape (type, timestamp, data) and its id."""
    return json.dumps(
        {"id": event.event_id, "type": event.type, "timestamp": event.created_at.isoformat(), "data": event.data},
        separators=(",", ":"),
    )


def signed_headers(*, secret: str, event_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers, signed by its library."""
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id=event_id, timestamp=at, data=body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _post(url: str, body: str, headers: dict[str, str]) -> Answer:
    started = time.monotonic()
    timeout = settings.WEBHOOKS_TIMEOUT_SECONDS
    try:
        with guarded_session() as session, session.post(
            url, data=body.encode(), headers=headers, timeout=(timeout, timeout), allow_redirects=False, stream=True,
        ) as response:
            raw = response.raw.read(RESPONSE_EXCERPT_CHARS * 4, decode_content=True) or b""
            # PostgreSQL text holds no NUL; a receiver may answer anything.
            excerpt = raw.decode("utf-8", "replace").replace("\x00", "")[:RESPONSE_EXCERPT_CHARS]
            error = "" if response.status_code < 300 else f"HTTP {response.status_code}"
            if 300 <= response.status_code < 400:
                error = "Redirects are not followed; point the endpoint at the final URL."
            return Answer(response.status_code, _ms(started), excerpt, error)
    # Reading the streamed answer raises urllib3's own errors, which requests does not wrap.
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        return Answer(None, _ms(started), "", f"{type(exc).__name__}: {exc}".replace("\x00", "")[:300])


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _next_delay(attempts: int) -> timedelta:
    base = settings.WEBHOOKS_RETRY_DELAYS[attempts - 1]
    return timedelta(seconds=base * (1 + random.uniform(0, 0.1)))  # noqa: S311 - jitter, not secrecy


def delivery_attempt(*, delivery_id: int, token: str, now: datetime | None = None) -> bool | None:
    """Make one attempt if `token` still holds the delivery; True/False for its outcome, None if not ours."""
    now = now or timezone.now()
    attempt_token = uuid.uuid4().hex
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, lease_token=token, endpoint__enabled=True,
    ).update(lease_token=attempt_token, next_attempt_at=now + _attempt_lease(), attempts=F("attempts") + 1,
             last_attempt_at=now)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint", "event").get(pk=delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    body = payload_body(event)
    answer = _post(endpoint.url, body, signed_headers(secret=endpoint.secret, event_id=event.event_id, body=body,
                                                       at=now))
    _record(delivery=delivery, attempt_token=attempt_token, answer=answer, started_at=now)
    return answer.succeeded


def _record(*, delivery: WebhookDelivery, attempt_token: str, answer: Answer, started_at: datetime) -> None:
    exhausted = False
    with transaction.atomic():
        current = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        DeliveryAttempt.objects.create(
            delivery=current, number=current.attempts, started_at=started_at, status_code=answer.status_code,
            latency_ms=answer.latency_ms, succeeded=answer.succeeded, response_excerpt=answer.excerpt,
            error=answer.error,
        )
        current.last_status_code = answer.status_code
        fields = ["last_status_code", "updated_at"]
        # Another attempt took the row over (this one outlived its lease): it decides what happens next.
        if current.lease_token == attempt_token and current.status == WebhookDelivery.Status.PENDING:
            current.lease_token = ""
            if answer.succeeded:
                current.status, current.next_attempt_at = WebhookDelivery.Status.SUCCEEDED, None
            elif current.attempts >= max_attempts():
                current.status, current.next_attempt_at = WebhookDelivery.Status.FAILED, None
                exhausted = True
            else:
                current.next_attempt_at = timezone.now() + _next_delay(current.attempts)
            fields += ["lease_token", "status", "next_attempt_at"]
        elif answer.succeeded and current.status == WebhookDelivery.Status.PENDING:
            current.status, current.next_attempt_at, current.lease_token = WebhookDelivery.Status.SUCCEEDED, None, ""
            fields += ["lease_token", "status", "next_attempt_at"]
        current.save(update_fields=fields)
    if exhausted:
        _disable_if_failing(delivery=current, last_error=answer.error)


def _disable_if_failing(*, delivery: WebhookDelivery, last_error: str) -> None:
    """A delivery that failed its whole schedule disables its endpoint, unless the endpoint answered another
    delivery since this one was first tried (then it works, and only this event is refused)."""
    answered_since = DeliveryAttempt.objects.filter(
        delivery__endpoint_id=delivery.endpoint_id, succeeded=True, started_at__gte=delivery.created_at,
    ).exists()
    if answered_since:
        return
    hours = (timezone.now() - delivery.created_at).total_seconds() / 3600
    reason = (f"Disabled after {delivery.attempts} failed attempts over {hours:.1f} h "
              f"(event {delivery.event.event_id}; last: {last_error or 'no answer'}).")
    if endpoint_disable(endpoint_id=delivery.endpoint_id, reason=reason):
        endpoint_disabled_notify(endpoint_id=delivery.endpoint_id)


def endpoint_disabled_notify(*, endpoint_id: int) -> int:
    """Tell the organization's admins by email that an endpoint was disabled; returns how many were told.
    The console shows the reason on the endpoint too, so a mail server that is away loses nothing."""
    endpoint = WebhookEndpoint.objects.select_related("organization").get(pk=endpoint_id)
    recipients = list(
        User.objects.filter(organization_id=endpoint.organization_id, role=User.Role.VENDOR_ADMIN, is_active=True)
        .exclude(email="").order_by("pk").values_list("email", flat=True)
    )
    logger.warning("webhook endpoint %s of %s disabled: %s", endpoint.pk, endpoint.organization.slug,
                   endpoint.disabled_reason)
    if not recipients:
        return 0
    sent = send_mail(
        subject=f"Webhook endpoint disabled: {endpoint.url}",
        message=(f"Tally stopped sending webhooks to {endpoint.url} ({endpoint.organization.name}).\n\n"
                 f"{endpoint.disabled_reason}\n\nFix the receiver, then enable the endpoint in the console "
                 "(Webhooks) or with PATCH /api/v1/webhook-endpoints/{id} {\"enabled\": true}; resend the "
                 "failed deliveries from its delivery log."),
        from_email=None, recipient_list=recipients, fail_silently=True,
    )
    return len(recipients) if sent else 0
