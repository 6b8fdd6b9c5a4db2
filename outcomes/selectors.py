from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Prefetch, QuerySet

from outcomes.enums import OutcomeStatus
from outcomes.models import Dispute, OutcomeEvent, OutcomeTransition, OutcomeType


@dataclass(frozen=True)
class BillableOutcome:
    event_id: int
    idempotency_key: str
    task_id: str
    timestamp: datetime | None  # None when read with timestamps=False
    outcome_type_id: int


def outcome_types_by_id(*, organization_id: int) -> dict[int, OutcomeType]:
    return {t.pk: t for t in OutcomeType.objects.filter(organization_id=organization_id)}


def billable_outcomes(
    *, customer_id: int, start: datetime, end: datetime, cutoff: datetime, timestamps: bool = True
) -> list[BillableOutcome]:
    """Outcomes billable in [start, end) as of `cutoff`: received and verifiable by then, not reversed,
    not disputed, and not already billed on a finalized invoice.

    Plain SQL rather than the ORM: a customer's month can hold thousands of rows, read on every run.
    `timestamps=False` leaves the timestamp out (None) for callers that only need the order: converting
    a thousand timestamptz values to aware datetimes is a third of the read's time.
    """
    timestamp_sql = "timestamp" if timestamps else "NULL"
    sql = f"""
        SELECT id, idempotency_key, task_id, {timestamp_sql}, outcome_type_id FROM {OutcomeEvent._meta.db_table}
        WHERE customer_id = %s AND timestamp >= %s AND timestamp < %s
          AND received_at <= %s AND verifiable_at <= %s AND (reversed_at IS NULL OR reversed_at > %s)
          AND status NOT IN (%s, %s, %s)
        ORDER BY timestamp, id
    """
    params: list[int | datetime | str] = [
        customer_id, start, end, cutoff, cutoff, cutoff,
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
                queryset=OutcomeTransition.objects.order_by("created_at", "pk").select_related("actor_user"),
            ),
            Prefetch("disputes", queryset=Dispute.objects.order_by("opened_at", "pk").select_related("opened_by")),
        )
        .order_by("timestamp", "pk")
    )


def dispute_list(*, organization_id: int, customer_id: int | None = None, open_: bool) -> QuerySet[Dispute]:
    """Open disputes oldest first (the queue), or resolved ones newest first, with their outcome's
    customer and type and the users who opened and resolved them."""
    disputes = Dispute.objects.filter(organization_id=organization_id)
    if customer_id is not None:
        disputes = disputes.filter(outcome_event__customer_id=customer_id)
    if open_:
        disputes = disputes.filter(status=Dispute.Status.OPEN).order_by("opened_at", "pk")
    else:
        disputes = disputes.exclude(status=Dispute.Status.OPEN).order_by("-resolved_at", "-pk")
    return disputes.select_related(
        "outcome_event__customer", "outcome_event__outcome_type", "opened_by", "resolved_by"
    )
