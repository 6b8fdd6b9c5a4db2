"""Asking customers to confirm: a daily email per customer listing the outcomes it received that await
its word, each with a signed one-click link (outcomes.signing) to the page that confirms or rejects it."""

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from outcomes.enums import OutcomeStatus, VerificationMethod
from outcomes.models import OutcomeEvent
from outcomes.signing import confirmation_link_token

# One email lists at most this many outcomes; the rest wait in the portal's Confirm outcomes page.
LINKS_PER_EMAIL = 50


def confirmation_link_url(*, event: OutcomeEvent) -> str:
    """The absolute one-click link of one outcome, valid for OUTCOME_CONFIRMATION_LINK_DAYS."""
    token = confirmation_link_token(organization_id=event.organization_id, customer_id=event.customer_id,
                                    event_id=event.pk)
    return settings.PORTAL_PUBLIC_URL.rstrip("/") + reverse("portal:confirm-link", args=[token])


def confirmation_requests_send(*, since: datetime, until: datetime) -> int:
    """Email each customer the outcomes received in [since, until) that await its confirmation; returns
    how many emails went. A customer without a billing email or email gets none (the portal lists them)."""
    events = (
        OutcomeEvent.objects.filter(
            received_at__gte=since, received_at__lt=until, status=OutcomeStatus.PENDING, confirmed_at__isnull=True,
            outcome_type__verification_methods__contains=[VerificationMethod.CUSTOMER_CONFIRMATION],
        )
        .select_related("customer", "organization", "outcome_type")
        .order_by("customer_id", "timestamp", "pk")
    )
    by_customer: dict[int, list[OutcomeEvent]] = defaultdict(list)
    for event in events:
        by_customer[event.customer_id].append(event)
    sent = 0
    for outcomes in by_customer.values():
        customer, organization = outcomes[0].customer, outcomes[0].organization
        recipient = customer.billing_email or customer.email
        if not recipient:
            continue
        lines = [f"- {event.outcome_type.name}, task {event.task_id} ({event.timestamp:%Y-%m-%d %H:%M} UTC): "
                 f"{confirmation_link_url(event=event)}" for event in outcomes[:LINKS_PER_EMAIL]]
        more = len(outcomes) - LINKS_PER_EMAIL
        portal = settings.PORTAL_PUBLIC_URL.rstrip("/") + reverse("portal:confirm-list")
        sent += send_mail(
            subject=f"{organization.name}: {len(outcomes)} outcome(s) to confirm",
            message=(f"{organization.name} reports these outcomes for {customer.name}. Open a link to confirm "
                     "the work was done, or to reject it (that opens a dispute and holds it out of billing).\n\n"
                     + "\n".join(lines)
                     + (f"\n\n…and {more} more in the portal: {portal}" if more > 0 else f"\n\nAll of them: {portal}")
                     + f"\n\nEach link works for {getattr(settings, 'OUTCOME_CONFIRMATION_LINK_DAYS', 14)} days."),
            from_email=None, recipient_list=[recipient], fail_silently=True,
        )
    return sent
