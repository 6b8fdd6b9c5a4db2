"""Cost to serve broken down for reports: per task, meter and rate dimensions (model, GPU type), and one
task's cost so far. Rates are chosen exactly as `metering.selectors.task_costs` chooses them."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from metering.selectors import (
    _EVENTS_SQL,
    _asof_sql,
    _dimension_keys,
    _grouped_sql_one_stage,
    _meter_aggregations,
    _rate_boundaries,
    rated_usage_sql,
)


@dataclass(frozen=True)
class TaskUsageCost:
    task_id: str | None
    meter_id: int
    dimensions: dict[str, Any]
    quantity: Decimal
    currency: str | None  # None: usage that matched no rate
    cost: Decimal


def task_usage_costs(*, organization_id: int, customer_id: int, start: datetime, end: datetime, cutoff: datetime
                     ) -> list[TaskUsageCost]:
    """Quantity and cost per (task, meter, rate dimensions) for events in [start, end) received by
    `cutoff`: the rows `task_costs` sums per task, kept apart by meter and model."""
    with_sql, params = rated_usage_sql(organization_id=organization_id, customer_id=customer_id, start=start,
                                       end=end, cutoff=cutoff)
    sql = f"""{with_sql}
        SELECT g.task_id, g.meter_id, g.dims, sum(g.quantity), r.currency,
               coalesce(sum(g.quantity * r.unit_cost / r.per), 0)
        FROM grouped g
        JOIN rated r ON r.meter_id = g.meter_id AND r.dims = g.dims AND r.asof = g.asof
        GROUP BY g.task_id, g.meter_id, g.dims, r.currency
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            TaskUsageCost(task, meter, json.loads(dims) if isinstance(dims, str) else dict(dims or {}), quantity,
                          currency, cost)
            for task, meter, dims, quantity, currency, cost in cursor.fetchall()
        ]


_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def task_cost_so_far(*, organization_id: int, customer_id: int, task_id: str, since: datetime, now: datetime
                     ) -> dict[str | None, Decimal]:
    """One running task's cost to serve so far, per rate currency (None: usage no rate prices), by the
    same grouping and rate choice as `task_costs`, for the events of one task (an agent asks before each
    step, so it is one statement on the (customer, task) index)."""
    start, end = since, _FAR_FUTURE
    keys = _dimension_keys(organization_id)
    meters = _meter_aggregations(organization_id)
    asof = _asof_sql(_rate_boundaries(organization_id, start, end))
    grouped_sql, grouped_params = _grouped_sql_one_stage(keys, meters, asof)
    # The task's rows only: the events filter of task_costs, narrowed by the task id.
    grouped_sql = grouped_sql.replace(_EVENTS_SQL, _EVENTS_SQL + " AND e.task_id = %(task_id)s")
    sql = f"""
        WITH grouped AS MATERIALIZED ({grouped_sql})
        SELECT r.currency, coalesce(sum(g.quantity * r.unit_cost / r.per), 0)
        FROM grouped g
        LEFT JOIN LATERAL (
            SELECT rate.unit_cost, rate.per, rate.currency FROM metering_rate rate
            WHERE rate.meter_id = g.meter_id AND rate.effective_from <= g.asof AND g.dims @> rate.dimensions
            ORDER BY rate.dimension_count DESC, rate.effective_from DESC, rate.id DESC
            LIMIT 1
        ) r ON true
        GROUP BY r.currency
    """
    params = {**grouped_params, "organization_id": organization_id, "customer_id": customer_id, "task_id": task_id,
              "start": start, "end": end,
              "cutoff": now}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {currency: cost for currency, cost in cursor.fetchall()}
