from collections.abc import Collection
from datetime import datetime
from decimal import Decimal

from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization, User
from core.errors import Conflict, DomainError, InvalidState, NotFound
from outcomes.enums import OutcomeStatus, VerificationMethod
from outcomes.models import Dispute, OutcomeEvent, OutcomeTransition, OutcomeType
from outcomes.webhook_events import (
    dispute_opened_emit,
    dispute_resolved_emit,
    disputes_closed_emit,
    outcome_moved_emit,
    outcomes_verified_emit,
)

# Billing keeps each customer's draft invoices; outcomes may not import it, so it is told by the name of
# its Celery task, after commit, when an outcome stops counting (a reversal, an accepted dispute), and
# the draft shows its pending credit or loses its line within a worker's round trip, not at the next run.
DRAFTS_REFRESH_TASK = "billing.refresh_customer_drafts"


def _drafts_refresh_on_commit(*, customer_id: int) -> None:
    transaction.on_commit(lambda: current_app.tasks[DRAFTS_REFRESH_TASK].delay(customer_id))


# Verification is done in chunks so one beat tick holds row locks briefly; 5,000 rows is ~50 ms.
VERIFY_CHUNK = 5000


def verification_methods_check(*, methods: list[str], evaluator_threshold: Decimal | None) -> list[str]:
    """The methods as stored (unique, in the enum's order), or a 400 naming the field."""
    unknown = sorted(set(methods) - set(VerificationMethod.values))
    if unknown:
        raise DomainError(f"Unknown verification method(s): {', '.join(unknown)}; use "
                          f"{', '.join(VerificationMethod.values)}.", field="verification_methods")
    if VerificationMethod.EVALUATOR in methods and evaluator_threshold is None:
        raise DomainError("The evaluator method needs an evaluator_threshold.", field="evaluator_threshold")
    return [m for m in VerificationMethod.values if m in methods]


def outcome_type_create(
    *,
    organization: Organization,
    code: str,
    name: str,
    price: Decimal,
    currency: str,
    verification_window_hours: int,
    value: Decimal,
    verification_methods: list[str] | None = None,
    silence_is_consent: bool = False,
    evaluator_threshold: Decimal | None = None,
) -> OutcomeType:
    methods = verification_methods_check(methods=verification_methods or [VerificationMethod.WINDOW],
                                         evaluator_threshold=evaluator_threshold)
    try:
        with transaction.atomic():
            return OutcomeType.objects.create(
                organization=organization, code=code, name=name, price=price, currency=currency,
                verification_window_hours=verification_window_hours, value=value, verification_methods=methods,
                silence_is_consent=silence_is_consent, evaluator_threshold=evaluator_threshold,
            )
    except IntegrityError as exc:
        raise Conflict(f"An outcome type with code {code!r} already exists.", field="code") from exc


def _transition(
    *, event: OutcomeEvent, to_status: str, reason: str, actor_label: str, actor_user: User | None
) -> OutcomeTransition:
    """The history row of one move (unsaved); the caller holds the event's row lock."""
    return OutcomeTransition(
        organization_id=event.organization_id, outcome_event=event, from_status=event.status,
        to_status=to_status, reason=reason, actor_user=actor_user, actor_label=actor_label,
    )


def _event_save(*, event: OutcomeEvent, fields: list[str]) -> None:
    """Write some fields of a locked event. Not `event.save()`: its UPDATE names the id alone, and the table's
    key is (organization_id, id) (outcomes 0006), so it would read the whole table."""
    OutcomeEvent.objects.filter(organization_id=event.organization_id, pk=event.pk).update(
        **{field: getattr(event, field) for field in fields})


def _move_one(
    *, event: OutcomeEvent, to_status: str, reason: str, actor_label: str, actor_user: User | None
) -> None:
    """One locked event's move, for a service that changes more of it: the history row is written, the
    status is set on the instance, and the caller saves it with its other fields."""
    _transition(event=event, to_status=to_status, reason=reason, actor_label=actor_label,
                actor_user=actor_user).save()
    outcome_moved_emit(event=event, from_status=event.status, to_status=to_status, reason=reason)
    event.status = to_status


def outcome_events_move(
    *, organization_id: int, event_ids: Collection[int], from_statuses: Collection[str], to_status: str,
    reason: str, actor_label: str, actor_user: User | None = None, skip_locked: bool = False,
) -> int:
    """Move the organization's events still in one of `from_statuses`: lock in pk order, one transition
    row each.

    Returns how many moved. Events in another status are left alone, so moving twice is a no-op.
    `skip_locked` leaves out events another transaction holds (the verification job, run twice at once).
    """
    if not event_ids:
        return 0
    # Inside the caller's transaction when there is one (no savepoint: the caller fails whole), else its own.
    with transaction.atomic(savepoint=False):
        # Every writer of many outcome rows locks them here, in one order: two at once cannot deadlock.
        events = list(
            OutcomeEvent.objects.select_for_update(skip_locked=skip_locked)
            .filter(organization_id=organization_id, pk__in=event_ids, status__in=from_statuses)
            .order_by("pk")
            .only("pk", "organization_id", "status")
        )
        OutcomeTransition.objects.bulk_create(
            [_transition(event=event, to_status=to_status, reason=reason, actor_label=actor_label,
                         actor_user=actor_user) for event in events],
            batch_size=2000,
        )
        moved = OutcomeEvent.objects.filter(organization_id=organization_id,
                                            pk__in=[event.pk for event in events]).update(status=to_status)
        if to_status == OutcomeStatus.VERIFIED:
            outcomes_verified_emit(event_ids=[e.pk for e in events if e.status == OutcomeStatus.PENDING],
                                   reason=reason)
        return moved


def outcome_event_reverse(
    *, organization: Organization, idempotency_key: str, reason: str, actor_label: str = "",
    actor_user: User | None = None,
) -> OutcomeEvent:
    """The outcome no longer counts (the ticket was reopened). Reversing twice is a no-op.

    A dispute open on the outcome closes with it, accepted: the vendor has conceded what the customer
    challenged, so the customer is never billed for it (or is credited, if it was billed)."""
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
        if event.status == OutcomeStatus.CREDITED:
            raise InvalidState("This outcome was already credited.", field="idempotency_key")
        now = timezone.now()
        Dispute.objects.filter(outcome_event=event, status=Dispute.Status.OPEN).update(
            status=Dispute.Status.ACCEPTED, resolution_note=f"Closed by the vendor's reversal: {reason}",
            resolved_by=actor_user, resolved_by_label=actor_label, resolved_at=now,
        )
        disputes_closed_emit(event=event, resolved_at=now)
        _move_one(event=event, to_status=OutcomeStatus.REVERSED, reason=reason, actor_label=actor_label,
                  actor_user=actor_user)
        event.reversed_at = now
        event.reversal_reason = reason
        _event_save(event=event, fields=["status", "reversed_at", "reversal_reason"])
        _drafts_refresh_on_commit(customer_id=event.customer_id)
        return event


def outcomes_verify_due(*, now: datetime | None = None) -> int:
    """Move pending outcomes whose verification window has passed to verified. Safe to run at once twice:
    each chunk is its own transaction, and rows another run holds are skipped (that run moves them).

    The one read of outcome events across organizations: the partial index on pending events
    (organization_id, verifiable_at) serves it; the moves then name each organization."""
    now = now or timezone.now()
    verified, after = 0, 0
    while True:
        chunk = list(
            OutcomeEvent.objects.filter(status=OutcomeStatus.PENDING, verifiable_at__lte=now, pk__gt=after)
            .order_by("pk")
            .values_list("organization_id", "pk")[:VERIFY_CHUNK]
        )
        if not chunk:
            return verified
        after = chunk[-1][1]
        by_organization: dict[int, list[int]] = {}
        for organization_id, pk in chunk:
            by_organization.setdefault(organization_id, []).append(pk)
        with transaction.atomic():
            for organization_id, event_ids in sorted(by_organization.items()):
                verified += outcome_events_move(
                    organization_id=organization_id, event_ids=event_ids, from_statuses=[OutcomeStatus.PENDING],
                    to_status=OutcomeStatus.VERIFIED, reason="verification window passed", actor_label="system",
                    skip_locked=True,
                )
                # Silence verified them: billed as assumed unless evidence confirms them before billing.
                OutcomeEvent.objects.filter(organization_id=organization_id, pk__in=event_ids,
                                            status=OutcomeStatus.VERIFIED, verified_by="").update(
                    verified_by=VerificationMethod.WINDOW)


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
        if event.status not in {OutcomeStatus.PENDING, OutcomeStatus.VERIFIED, OutcomeStatus.BILLED}:
            raise InvalidState(f"A {event.status} outcome cannot be disputed.", field="idempotency_key")
        dispute = Dispute.objects.create(
            organization=organization, outcome_event=event, reason=reason, status_before=event.status,
            opened_by=actor_user, opened_by_label=actor_label,
        )
        _move_one(event=event, to_status=OutcomeStatus.DISPUTED, reason=reason, actor_label=actor_label,
                  actor_user=actor_user)
        _event_save(event=event, fields=["status"])
        dispute_opened_emit(dispute=dispute, event=event)
        return dispute


def dispute_resolve(
    *, organization: Organization, dispute_id: int, accept: bool, note: str, actor_user: User | None = None,
    actor_label: str = "",
) -> Dispute:
    """The vendor decides. Accepted: the outcome is reversed (never billed, or credited if it was).
    Rejected: the outcome returns to where it was (billable, or billed), with the decision recorded.
    An outcome reversed or credited meanwhile is never moved back: its dispute can only be accepted."""
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().filter(organization=organization, pk=dispute_id).first()
        if dispute is None:
            raise NotFound(f"No dispute {dispute_id}.", field="id")
        if dispute.status != Dispute.Status.OPEN:
            raise InvalidState(f"The dispute is already {dispute.status}.", field="id")
        event = OutcomeEvent.objects.select_for_update().get(organization_id=dispute.organization_id,
                                                             pk=dispute.outcome_event_id)
        dispute.outcome_event = event  # the caller reads it; a fetch by its id alone would miss the key
        settled = event.is_reversed or event.status in {OutcomeStatus.REVERSED, OutcomeStatus.CREDITED}
        if settled and not accept:
            raise InvalidState(f"The outcome is {event.status} already; the dispute can only be accepted.",
                               field="decision")
        to_status: str
        if event.status in {OutcomeStatus.REVERSED, OutcomeStatus.CREDITED}:
            to_status = event.status
        elif accept or settled:  # settled: reversed while disputed before reversals closed disputes
            to_status = OutcomeStatus.REVERSED
            event.reversed_at = event.reversed_at or timezone.now()
            event.reversal_reason = event.reversal_reason or f"dispute accepted: {note}"
        else:
            to_status = dispute.status_before
        if to_status != event.status:
            _move_one(event=event, to_status=to_status,
                      reason=f"dispute {'accepted' if accept else 'rejected'}: {note}",
                      actor_label=actor_label, actor_user=actor_user)
            _event_save(event=event, fields=["status", "reversed_at", "reversal_reason"])
        dispute.status = Dispute.Status.ACCEPTED if accept else Dispute.Status.REJECTED
        dispute.resolution_note, dispute.resolved_by, dispute.resolved_by_label = note, actor_user, actor_label
        dispute.resolved_at = timezone.now()
        dispute.save()
        dispute_resolved_emit(dispute=dispute, event=event)
        _drafts_refresh_on_commit(customer_id=event.customer_id)
        return dispute

