"""Reads of past outcomes for reports and what-if pricing (the value app's simulator and efficiency
report): what stood in a period as of a moment, whatever happened to it since."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from outcomes.enums import OutcomeStatus
from outcomes.models import OutcomeEvent
from outcomes.selectors import BillableOutcome


def outcomes_standing_at(*, organization_id: int, customer_id: int, start: datetime, end: datetime, cutoff: datetime
                         ) -> list[BillableOutcome]:
    """Outcomes of [start, end) that a billing run at `cutoff` would have priced: received and verifiable
    by then, not reversed by then, not in dispute. Unlike `billable_outcomes`, outcomes billed since stay
    in (a finalized period is recomputed as its invoice saw it). Time order, as pricing needs; each
    confirmed if evidence confirmed it by then (price by assurance), as `billable_outcomes` reads it."""
    sql = f"""
        SELECT id, idempotency_key, task_id, timestamp, outcome_type_id, coalesce(confirmed_at <= %s, false)
        FROM {OutcomeEvent._meta.db_table}
        WHERE organization_id = %s AND customer_id = %s AND timestamp >= %s AND timestamp < %s
          AND received_at <= %s AND verifiable_at <= %s AND (reversed_at IS NULL OR reversed_at > %s)
          AND status <> %s
        ORDER BY timestamp, id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [cutoff, organization_id, customer_id, start, end, cutoff, cutoff, cutoff,
                             OutcomeStatus.DISPUTED])
        return [BillableOutcome(*row) for row in cursor.fetchall()]


@dataclass(frozen=True)
class TaskOutcome:
    customer_id: int
    task_id: str
    outcome_type_id: int
    standing: bool  # not reversed, credited nor disputed


def task_outcomes_in(*, organization_id: int, start: datetime, end: datetime) -> list[TaskOutcome]:
    """Every outcome claim of the organization's tasks in [start, end): one row per claim, oldest first."""
    not_standing = (OutcomeStatus.REVERSED, OutcomeStatus.CREDITED, OutcomeStatus.DISPUTED)
    rows = (
        OutcomeEvent.objects.filter(organization_id=organization_id, timestamp__gte=start, timestamp__lt=end)
        .order_by("timestamp", "pk").values_list("customer_id", "task_id", "outcome_type_id", "status")
    )
    return [TaskOutcome(c, t, o, status not in not_standing) for c, t, o, status in rows]


def task_outcome_type(*, organization_id: int, customer_id: int, task_id: str) -> int | None:
    """The outcome type of a task's first claim, if it has one."""
    return (
        OutcomeEvent.objects.filter(organization_id=organization_id, customer_id=customer_id, task_id=task_id)
        .order_by("timestamp", "pk")
        .values_list("outcome_type_id", flat=True).first()
    )
