from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from core.errors import NotFound
from outcomes.enums import Assurance, OutcomeStatus, VerificationMethod
from outcomes.models import (
    Dispute,
    OutcomeEvent,
    OutcomeEvidence,
    OutcomeTransition,
    OutcomeType,
    VerificationSource,
)


@dataclass(frozen=True)
class BillableOutcome:
    event_id: int
    idempotency_key: str
    task_id: str
    timestamp: datetime | None  # None when read with timestamps=False
    outcome_type_id: int
    confirmed: bool = False  # evidence confirmed it by the cutoff (assurance pricing); else assumed


def outcome_types_by_id(*, organization_id: int) -> dict[int, OutcomeType]:
    return {t.pk: t for t in OutcomeType.objects.filter(organization_id=organization_id)}


def billable_outcomes(
    *, organization_id: int, customer_id: int, start: datetime, end: datetime, cutoff: datetime, timestamps: bool = True
) -> list[BillableOutcome]:
    """Outcomes billable in [start, end) as of `cutoff`: received and verifiable by then, not reversed,
    not disputed, and not already billed on a finalized invoice; each confirmed if evidence confirmed it
    by then (an outcome awaiting evidence has no `verifiable_at` and is not billable).

    Plain SQL rather than the ORM: a customer's month can hold thousands of rows, read on every run.
    `timestamps=False` leaves the timestamp out (None) for callers that only need the order: converting
    a thousand timestamptz values to aware datetimes is a third of the read's time.
    """
    timestamp_sql = "timestamp" if timestamps else "NULL"
    sql = f"""
        SELECT id, idempotency_key, task_id, {timestamp_sql}, outcome_type_id,
               coalesce(confirmed_at <= %s, false) FROM {OutcomeEvent._meta.db_table}
        WHERE organization_id = %s AND customer_id = %s AND timestamp >= %s AND timestamp < %s
          AND received_at <= %s AND verifiable_at <= %s AND (reversed_at IS NULL OR reversed_at > %s)
          AND status NOT IN (%s, %s, %s)
        ORDER BY timestamp, id
    """
    params: list[int | datetime | str] = [
        cutoff, organization_id, customer_id, start, end, cutoff, cutoff, cutoff,
        OutcomeStatus.DISPUTED, OutcomeStatus.BILLED, OutcomeStatus.CREDITED,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [BillableOutcome(*row) for row in cursor.fetchall()]


def outcome_event_list(*, organization_id: int) -> QuerySet[OutcomeEvent]:
    return OutcomeEvent.objects.filter(organization_id=organization_id).select_related("customer", "outcome_type")


def outcome_type_names(*, organization_id: int) -> dict[str, str]:
    """Each outcome type's name by its code."""
    return dict(OutcomeType.objects.filter(organization_id=organization_id).values_list("code", "name"))


def task_outcome_list(*, organization_id: int, customer_id: int, task_id: str) -> list[OutcomeEvent]:
    """A task's outcome claims, oldest first, each with its history (transitions) and its disputes."""
    return list(
        OutcomeEvent.objects.filter(organization_id=organization_id, customer_id=customer_id, task_id=task_id)
        .select_related("outcome_type")
        .prefetch_related(
            Prefetch(
                "transitions",
                queryset=OutcomeTransition.objects.filter(organization_id=organization_id)
                .order_by("created_at", "pk").select_related("actor_user"),
            ),
            Prefetch("disputes", queryset=Dispute.objects.order_by("opened_at", "pk").select_related("opened_by")),
        )
        .order_by("timestamp", "pk")
    )


def dispute_list(*, organization_id: int, customer_id: int | None = None, open_: bool) -> QuerySet[Dispute]:
    """Open disputes oldest first (the queue), or resolved ones newest first, with their outcome's
    customer and type and the users who opened and resolved them."""
    # The outcome joined by both columns of its key (outcomes 0006), as a dispute and its outcome share both.
    disputes = Dispute.objects.filter(organization_id=organization_id, outcome_event__organization_id=organization_id)
    if customer_id is not None:
        disputes = disputes.filter(outcome_event__customer_id=customer_id)
    if open_:
        disputes = disputes.filter(status=Dispute.Status.OPEN).order_by("opened_at", "pk")
    else:
        disputes = disputes.exclude(status=Dispute.Status.OPEN).order_by("-resolved_at", "-pk")
    return disputes.select_related(
        "outcome_event__customer", "outcome_event__outcome_type", "opened_by", "resolved_by"
    )


@dataclass(frozen=True)
class EvidenceItem:
    """One piece of evidence as every audience may see it (it holds no cost or margin)."""

    method: str
    method_label: str
    verdict: str
    who: str
    at: datetime
    recorded_at: datetime
    score: Decimal | None
    threshold: Decimal | None
    evaluator: str
    external_id: str
    url: str
    note: str


@dataclass(frozen=True)
class OutcomeProof:
    """An outcome's assurance and its evidence, oldest first."""

    event_id: int
    idempotency_key: str
    status: str
    assurance: str  # "confirmed", "assumed" (verified by silence), or "" while it awaits verification
    verified_by: str
    confirmed_at: datetime | None
    items: tuple[EvidenceItem, ...]

    @property
    def summary(self) -> str:
        """One line for itemizations and exports: the assurance and what it rests on."""
        if self.assurance == Assurance.CONFIRMED:
            item = next((i for i in self.items if i.verdict == "confirmed"), None)
            if item is None:
                return "confirmed"
            detail = item.external_id or (f"score {item.score.normalize():f}" if item.score is not None else item.who)
            return f"confirmed · {item.method_label.lower()}" + (f" · {detail}" if detail else "")
        if self.assurance == Assurance.ASSUMED:
            return "assumed · window passed"
        rejected = next((i for i in reversed(self.items) if i.verdict == "rejected"), None)
        if rejected is not None:
            return f"rejected · {rejected.method_label.lower()}"
        if self.status in _UNVERIFIABLE:
            return self.status
        return "awaiting verification"

    def as_dict(self) -> dict[str, object]:
        """The proof as the API answers it (outcomes.api.verification.OutcomeProofOutput)."""
        def number(value: Decimal | None) -> str | None:
            return None if value is None else format(value.normalize(), "f")

        return {
            "idempotency_key": self.idempotency_key, "status": self.status, "assurance": self.assurance,
            "verified_by": self.verified_by, "confirmed_at": self.confirmed_at, "summary": self.summary,
            "evidence": [
                {"method": i.method, "verdict": i.verdict, "who": i.who, "at": i.at, "recorded_at": i.recorded_at,
                 "score": number(i.score), "threshold": number(i.threshold), "evaluator": i.evaluator,
                 "external_id": i.external_id, "url": i.url, "note": i.note}
                for i in self.items
            ],
        }

    @property
    def label(self) -> str:
        """The badge: the assurance, else what stopped the outcome (disputed, reversed), else awaiting."""
        return self.assurance or (self.status if self.status in _UNVERIFIABLE else "awaiting")


METHOD_LABELS: dict[str, str] = {
    VerificationMethod.WINDOW: "Window", VerificationMethod.CUSTOMER_CONFIRMATION: "Customer",
    VerificationMethod.SYSTEM_OF_RECORD: "System of record", VerificationMethod.EVALUATOR: "Evaluator",
}
_ASSUMED_STATUSES = {OutcomeStatus.VERIFIED, OutcomeStatus.BILLED}
_UNVERIFIABLE = {OutcomeStatus.DISPUTED, OutcomeStatus.REVERSED, OutcomeStatus.CREDITED}


def _assurance(event: OutcomeEvent, now: datetime) -> str:
    if event.confirmed_at is not None:
        return Assurance.CONFIRMED
    if event.status in _ASSUMED_STATUSES or (
            event.status == OutcomeStatus.PENDING and event.verifiable_at is not None and event.verifiable_at <= now):
        return Assurance.ASSUMED
    return ""


def outcome_evidence(*, organization_id: int, event_ids: Iterable[int] = (),
                     events: Iterable[OutcomeEvent] = ()) -> dict[int, OutcomeProof]:
    """Each outcome's proof, by event id, in two queries (one when the caller has the `events` loaded):
    for the task page, the dispute queue, the itemization, exports and the API alike (one definition of
    what an outcome's assurance is). Outcomes of another organization are left out."""
    loaded = [event for event in events if event.organization_id == organization_id]
    ids = sorted(set(event_ids) - {event.pk for event in loaded})
    if ids:
        loaded += OutcomeEvent.objects.filter(organization_id=organization_id, pk__in=ids).only(
            "pk", "organization_id", "idempotency_key", "status", "verifiable_at", "confirmed_at", "verified_by")
    if not loaded:
        return {}
    events = {event.pk: event for event in loaded}.values()
    items: dict[int, list[EvidenceItem]] = {event.pk: [] for event in events}
    rows = (OutcomeEvidence.objects.filter(organization_id=organization_id, outcome_event_id__in=list(items))
            .select_related("actor_user").order_by("recorded_at", "pk"))
    for row in rows:
        who = row.actor_user.get_full_name() or row.actor_user.username if row.actor_user else row.actor_label
        items[row.outcome_event_id].append(EvidenceItem(
            method=row.method, method_label=METHOD_LABELS.get(row.method, row.method), verdict=row.verdict,
            who=who or row.method, at=row.occurred_at, recorded_at=row.recorded_at, score=row.score,
            threshold=row.threshold, evaluator=row.evaluator, external_id=row.external_id, url=row.url, note=row.note,
        ))
    now = timezone.now()
    return {
        event.pk: OutcomeProof(
            event_id=event.pk, idempotency_key=event.idempotency_key, status=event.status,
            assurance=_assurance(event, now), verified_by=event.verified_by, confirmed_at=event.confirmed_at,
            items=tuple(items[event.pk]),
        )
        for event in events
    }


def outcomes_awaiting_confirmation(*, organization_id: int, customer_id: int, limit: int = 200) -> list[OutcomeEvent]:
    """A customer's outcomes it may still confirm or reject, oldest first: of types the customer confirms,
    pending, or verified by silence and not billed yet."""
    return list(
        OutcomeEvent.objects.filter(
            organization_id=organization_id, customer_id=customer_id,
            outcome_type__verification_methods__contains=[VerificationMethod.CUSTOMER_CONFIRMATION],
            status__in=[OutcomeStatus.PENDING, OutcomeStatus.VERIFIED], confirmed_at__isnull=True,
        ).select_related("outcome_type").order_by("timestamp", "pk")[:limit]
    )


def verification_source_list(*, organization_id: int) -> QuerySet[VerificationSource]:
    return VerificationSource.objects.filter(organization_id=organization_id).order_by("code")


def outcome_for_customer(*, organization_id: int, customer_id: int, event_id: int) -> OutcomeEvent:
    """One outcome of one customer (a signed link's, a portal button's), or NotFound."""
    event = (OutcomeEvent.objects.filter(organization_id=organization_id, customer_id=customer_id, pk=event_id)
             .select_related("outcome_type", "customer", "organization").first())
    if event is None:
        raise NotFound("No such outcome.", field="outcome")
    return event
