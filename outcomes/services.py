from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization, User
from core.errors import Conflict, InvalidState, NotFound
from outcomes.models import Dispute, OutcomeEvent, OutcomeTransition, OutcomeType

# Verification is done in chunks so one beat tick holds row locks briefly; 5,000 rows is ~50 ms.
VERIFY_CHUNK = 5000


def outcome_type_create(
    *,
    organization: Organization,
    code: str,
    name: str,
    price: Decimal,
    currency: str,
    verification_window_hours: int,
    value: Decimal,
) -> OutcomeType:
    try:
        with transaction.atomic():
            return OutcomeType.objects.create(
                organization=organization, code=code, name=name, price=price, currency=currency,
                verification_window_hours=verification_window_hours, value=value,
            )
    except IntegrityError as exc:
        raise Conflict(f"An outcome type with code {code!r} already exists.", field="code") from exc


def _transition(
    *, event: OutcomeEvent, to_status: str, reason: str = "", actor_user: User | None = None, actor_label: str = ""
) -> None:
    OutcomeTransition.objects.create(
        organization_id=event.organization_id, outcome_event=event, from_status=event.status,
        to_status=to_status, reason=reason, actor_user=actor_user, actor_label=actor_label,
    )
    event.status = to_status


def outcome_event_reverse(
    *, organization: Organization, idempotency_key: str, reason: str, actor_label: str = "",
    actor_user: User | None = None,
) -> OutcomeEvent:
    """The outcome no longer counts (the ticket was reopened). Reversing twice is a no-op."""
    with transaction.atomic():
        event = (
            OutcomeEvent.objects.select_for_update()
            .filter(organization=organization, idempotency_key=idempotency_key)
            .first()
        )
        if event is None:
            raise NotFound(f"No outcome event with idempotency_key {idempotency_key!r}.", field="idempotency_key")
        if event.reversed_at is not None:
            return event
        if event.status == OutcomeEvent.Status.CREDITED:
            raise InvalidState("This outcome was already credited.", field="idempotency_key")
        _transition(event=event, to_status=OutcomeEvent.Status.REVERSED, reason=reason,
                    actor_user=actor_user, actor_label=actor_label)
        event.reversed_at = timezone.now()
        event.reversal_reason = reason
        event.save(update_fields=["status", "reversed_at", "reversal_reason"])
        return event


def outcomes_verify_due(*, now: datetime | None = None) -> int:
    """Move pending outcomes whose verification window has passed to verified. Safe to run at once twice."""
    now = now or timezone.now()
    verified = 0
    while True:
        with transaction.atomic():
            events = list(
                OutcomeEvent.objects.select_for_update(skip_locked=True)
                .filter(status=OutcomeEvent.Status.PENDING, verifiable_at__lte=now)
                .order_by("pk")[:VERIFY_CHUNK]
            )
            if not events:
                return verified
            OutcomeTransition.objects.bulk_create(
                OutcomeTransition(
                    organization_id=event.organization_id, outcome_event=event, from_status=event.status,
                    to_status=OutcomeEvent.Status.VERIFIED, actor_label="system",
                    reason="verification window passed",
                )
                for event in events
            )
            OutcomeEvent.objects.filter(pk__in=[event.pk for event in events]).update(
                status=OutcomeEvent.Status.VERIFIED
            )
            verified += len(events)


def outcome_event_dispute(
    *, organization: Organization, idempotency_key: str, reason: str, actor_user: User | None = None,
    actor_label: str = "", customer_id: int | None = None,
) -> Dispute:
    """A customer challenges an outcome: it is held out of billing until the vendor decides."""
    with transaction.atomic():
        events = OutcomeEvent.objects.select_for_update().filter(
            organization=organization, idempotency_key=idempotency_key
        )
        if customer_id is not None:
            events = events.filter(customer_id=customer_id)
        event = events.first()
        if event is None:
            raise NotFound(f"No outcome event with idempotency_key {idempotency_key!r}.", field="idempotency_key")
        if event.status not in {OutcomeEvent.Status.PENDING, OutcomeEvent.Status.VERIFIED, OutcomeEvent.Status.BILLED}:
            raise InvalidState(f"A {event.status} outcome cannot be disputed.", field="idempotency_key")
        dispute = Dispute.objects.create(
            organization=organization, outcome_event=event, reason=reason, status_before=event.status,
            opened_by=actor_user, opened_by_label=actor_label,
        )
        _transition(event=event, to_status=OutcomeEvent.Status.DISPUTED, reason=reason, actor_user=actor_user,
                    actor_label=actor_label)
        event.save(update_fields=["status"])
        return dispute


def dispute_resolve(
    *, organization: Organization, dispute_id: int, accept: bool, note: str, actor_user: User | None = None,
    actor_label: str = "",
) -> Dispute:
    """The vendor decides. Accepted: the outcome is reversed (never billed, or credited if it was).
    Rejected: the outcome returns to where it was (billable, or billed), with the decision recorded."""
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().filter(organization=organization, pk=dispute_id).first()
        if dispute is None:
            raise NotFound(f"No dispute {dispute_id}.", field="id")
        if dispute.status != Dispute.Status.OPEN:
            raise InvalidState(f"The dispute is already {dispute.status}.", field="id")
        event = OutcomeEvent.objects.select_for_update().get(pk=dispute.outcome_event_id)
        if accept:
            to_status = OutcomeEvent.Status.REVERSED
            event.reversed_at = timezone.now()
            event.reversal_reason = f"dispute accepted: {note}"
        else:
            to_status = dispute.status_before
        _transition(event=event, to_status=to_status, reason=f"dispute {'accepted' if accept else 'rejected'}: {note}",
                    actor_user=actor_user, actor_label=actor_label)
        event.save(update_fields=["status", "reversed_at", "reversal_reason"])
        dispute.status = Dispute.Status.ACCEPTED if accept else Dispute.Status.REJECTED
        dispute.resolution_note, dispute.resolved_by, dispute.resolved_by_label = note, actor_user, actor_label
        dispute.resolved_at = timezone.now()
        dispute.save()
        return dispute

