"""Reads of usage: cost to serve per task, computed by the database."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection

from metering.models import Meter, Rate

_AGGREGATE = {
    Meter.Aggregation.SUM: "sum(e.quantity)",
    Meter.Aggregation.COUNT: "count(*)::numeric",
    Meter.Aggregation.MAX: "max(e.quantity)",
    Meter.Aggregation.LATEST: "(array_agg(e.quantity ORDER BY e.timestamp DESC, e.id DESC))[1]",
}


@dataclass(frozen=True)
class TaskCost:
    task_id: str | None
    currency: str | None  # None: usage that matched no rate
    cost: Decimal
    events: int


def _dimension_keys(organization_id: int) -> list[str]:
    keys: set[str] = set()
    for dimensions in Rate.objects.filter(organization_id=organization_id).values_list("dimensions", flat=True):
        keys.update(dimensions or {})
    return sorted(keys)


def _rate_boundaries(organization_id: int, start: datetime, end: datetime) -> list[datetime]:
    rows = (
        Rate.objects.filter(organization_id=organization_id, effective_from__gt=start, effective_from__lt=end)
        .order_by("effective_from").values_list("effective_from", flat=True).distinct()
    )
    return list(rows)


def _quantity_expression(organization_id: int) -> str:
    meters = Meter.objects.filter(organization_id=organization_id).values_list("id", "aggregation", "unique_property")
    cases = []
    for meter_id, aggregation, unique_property in meters:
        if aggregation == Meter.Aggregation.UNIQUE_COUNT:
            # unique_property is restricted to [A-Za-z0-9_.-] when the meter is created.
            target = f"e.properties ->> '{unique_property}'" if unique_property else "e.task_id"
            expression = f"count(DISTINCT {target})::numeric"
        else:
            expression = _AGGREGATE[aggregation]
        cases.append(f"WHEN {int(meter_id)} THEN {expression}")
    if not cases:
        return "sum(e.quantity)"
    return "CASE e.meter_id " + " ".join(cases) + " END"


def task_costs(
    *, organization_id: int, customer_id: int, start: datetime, end: datetime, cutoff: datetime
) -> list[TaskCost]:
    """Cost to serve per task for events in [start, end) received by `cutoff`.

    Usage is first aggregated by (task, meter, rate dimensions, rate version), so the rate lookup runs
    once per group rather than once per event; the sums stay exact (numeric, never float).
    """
    keys = _dimension_keys(organization_id)
    boundaries = _rate_boundaries(organization_id, start, end)
    params: list[object] = []
    dims_sql = "'{}'::jsonb"
    if keys:
        pairs = []
        for key in keys:
            pairs.append("%s::text, e.properties -> %s::text")
            params.extend([key, key])
        dims_sql = f"jsonb_strip_nulls(jsonb_build_object({', '.join(pairs)}))"
    asof_sql = "%s::timestamptz"
    asof_params: list[object] = [start]
    if boundaries:
        whens = " ".join("WHEN e.timestamp >= %s THEN %s::timestamptz" for _ in boundaries)
        asof_sql = f"CASE {whens} ELSE %s::timestamptz END"
        asof_params = [value for boundary in reversed(boundaries) for value in (boundary, boundary)] + [start]
    params.extend(asof_params)
    quantity_sql = _quantity_expression(organization_id)
    sql = f"""
        WITH grouped AS (
            SELECT e.task_id, e.meter_id, {dims_sql} AS dims, {asof_sql} AS asof,
                   {quantity_sql} AS quantity, count(*) AS events
            FROM metering_usageevent e
            WHERE e.customer_id = %s AND e.timestamp >= %s AND e.timestamp < %s AND e.received_at <= %s
            GROUP BY 1, 2, 3, 4
        )
        SELECT g.task_id, r.currency, coalesce(sum(g.quantity * r.unit_cost / r.per), 0), sum(g.events)
        FROM grouped g
        LEFT JOIN LATERAL (
            SELECT rate.unit_cost, rate.per, rate.currency FROM metering_rate rate
            WHERE rate.meter_id = g.meter_id AND rate.effective_from <= g.asof AND g.dims @> rate.dimensions
            ORDER BY rate.dimension_count DESC, rate.effective_from DESC, rate.id DESC
            LIMIT 1
        ) r ON true
        GROUP BY g.task_id, r.currency
    """
    params.extend([customer_id, start, end, cutoff])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [TaskCost(task_id, currency, cost, int(events)) for task_id, currency, cost, events in cursor.fetchall()]
