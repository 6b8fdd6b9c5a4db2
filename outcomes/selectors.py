from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet

from outcomes.models import OutcomeEvent, OutcomeType


@dataclass(frozen=True)
class BillableOutcome:
    event_id: int
    idempotency_key: str
    task_id: str
    timestamp: datetime
    outcome_type_id: int


def outcome_types_by_id(*, organization_id: int) -> dict[int, OutcomeType]:
    return {t.pk: t for t in OutcomeType.objects.filter(organization_id=organization_id)}


def billable_outcomes(
    *, customer_id: int, start: datetime, end: datetime, cutoff: datetime
) -> list[BillableOutcome]:
    """Outcomes billable in [start, end) as of `cutoff`: received and verifiable by then, not reversed,
    not disputed, and not already billed on a finalized invoice."""
    rows = (
        OutcomeEvent.objects.filter(
            customer_id=customer_id, timestamp__gte=start, timestamp__lt=end,
            received_at__lte=cutoff, verifiable_at__lte=cutoff,
        )
        .filter(Q(reversed_at__isnull=True) | Q(reversed_at__gt=cutoff))
        .exclude(status__in=[OutcomeEvent.Status.DISPUTED, OutcomeEvent.Status.BILLED,
                             OutcomeEvent.Status.CREDITED])
        .order_by("timestamp", "pk")
        .values_list("pk", "idempotency_key", "task_id", "timestamp", "outcome_type_id")
    )
    return [BillableOutcome(*row) for row in rows]


def outcome_event_list(*, organization_id: int) -> QuerySet[OutcomeEvent]:
    return OutcomeEvent.objects.filter(organization_id=organization_id).select_related("customer", "outcome_type")


def outcome_value(*, outcome_type: OutcomeType, count: int) -> Decimal:
    return outcome_type.value * count
