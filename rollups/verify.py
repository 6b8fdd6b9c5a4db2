"""Check the rollups against a recompute from the raw events: cost per task, quantity per meter and
outcome counts by status, for every customer of an organization in a period."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from core.periods import Period
from metering.selectors import task_costs
from metering.usage_totals import usage_totals
from rollups.selectors import outcome_counts, task_costs_rolled, usage_totals_rolled


@dataclass(frozen=True)
class Difference:
    customer_id: int
    figure: str
    rollups: str
    events: str


def _customers(organization_id: int, period: Period) -> list[int]:
    """Customers with usage or outcomes in the period, by the raw events or by the rollups."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT customer_id FROM metering_usageevent
            WHERE organization_id = %(org)s AND timestamp >= %(start)s AND timestamp < %(end)s
            UNION SELECT customer_id FROM outcomes_outcomeevent
            WHERE organization_id = %(org)s AND timestamp >= %(start)s AND timestamp < %(end)s
            UNION SELECT customer_id FROM rollups_customer_period
            WHERE organization_id = %(org)s AND period_start = %(period)s
            UNION SELECT customer_id FROM rollups_outcome_count
            WHERE organization_id = %(org)s AND period_start = %(period)s AND count <> 0
            ORDER BY 1
        """, {"org": organization_id, "start": period.start_at, "end": period.end_at, "period": period.start})
        return [row[0] for row in cursor.fetchall()]


def _raw_outcome_counts(organization_id: int, customer_id: int, period: Period) -> list[tuple[int, str, int]]:
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT outcome_type_id, status, count(*) FROM outcomes_outcomeevent
            WHERE organization_id = %s AND customer_id = %s AND timestamp >= %s AND timestamp < %s
            GROUP BY 1, 2 ORDER BY 1, 2
        """, [organization_id, customer_id, period.start_at, period.end_at])
        return [(type_id, status, int(n)) for type_id, status, n in cursor.fetchall()]


def rollups_verify(*, organization_id: int, period: Period) -> list[Difference]:
    """Every figure whose rollup value differs from the raw events' (an empty list: they agree)."""
    cutoff = timezone.now() + timedelta(days=1)  # every event received so far
    differences = []
    for customer_id in _customers(organization_id, period):
        rolled_costs = task_costs_rolled(organization_id=organization_id, customer_id=customer_id, period=period,
                                         cutoff=cutoff)
        raw_costs = task_costs(organization_id=organization_id, customer_id=customer_id, start=period.start_at,
                               end=period.end_at, cutoff=cutoff)
        if rolled_costs is None:
            differences.append(Difference(customer_id, "rate card", "not re-rated yet", "reshaped"))
        else:
            rolled_by_task = {(c.task_id, c.currency): (c.cost, c.events) for c in rolled_costs}
            raw_by_task = {(c.task_id, c.currency): (c.cost, c.events) for c in raw_costs}
            for key in sorted(rolled_by_task.keys() | raw_by_task.keys(), key=lambda k: (k[0] or "", k[1] or "")):
                if rolled_by_task.get(key) != raw_by_task.get(key):
                    differences.append(Difference(customer_id, f"task {key[0]} cost ({key[1]}), events",
                                                  str(rolled_by_task.get(key)), str(raw_by_task.get(key))))
        rolled_totals = usage_totals_rolled(organization_id=organization_id, customer_id=customer_id, period=period,
                                            cutoff=cutoff)
        raw_totals = usage_totals(customer_id=customer_id, start=period.start_at, end=period.end_at, cutoff=cutoff)
        if rolled_totals is not None and rolled_totals != raw_totals:
            for meter_id in sorted(rolled_totals.keys() | raw_totals.keys()):
                if rolled_totals.get(meter_id) != raw_totals.get(meter_id):
                    differences.append(Difference(customer_id, f"meter {meter_id} quantity",
                                                  str(rolled_totals.get(meter_id)), str(raw_totals.get(meter_id))))
        counts = [(c.outcome_type_id, c.status, c.count)
                  for c in outcome_counts(organization_id=organization_id, customer_id=customer_id, period=period)]
        raw_counts = _raw_outcome_counts(organization_id, customer_id, period)
        if counts != raw_counts:
            differences.append(Difference(customer_id, "outcome counts by type and status", str(counts),
                                          str(raw_counts)))
    return differences
