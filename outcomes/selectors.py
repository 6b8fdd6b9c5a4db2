from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet

from outcomes.models import OutcomeEvent, OutcomeType


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
    params = [customer_id, start, end, cutoff, cutoff, cutoff, OutcomeEvent.Status.DISPUTED,
              OutcomeEvent.Status.BILLED, OutcomeEvent.Status.CREDITED]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [BillableOutcome(*row) for row in cursor.fetchall()]


def outcome_event_list(*, organization_id: int) -> QuerySet[OutcomeEvent]:
    return OutcomeEvent.objects.filter(organization_id=organization_id).select_related("customer", "outcome_type")


def outcome_value(*, outcome_type: OutcomeType, count: int) -> Decimal:
    return outcome_type.value * count
