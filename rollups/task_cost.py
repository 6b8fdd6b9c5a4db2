"""One task's cost to serve so far, from the rollups plus their unfolded tail: what a running agent asks
before each step (the value app's budget endpoint), in a few milliseconds however many events the task
has, as the rollups hold a handful of rows per task (meter, rate dimensions, rate version) and the tail
is read through the xid index (rollups.selectors reads it so)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from core.periods import Period
from rollups.selectors import _MOVED_SQL, _TAIL_SQL, _rows_read, _shape_if_current
from rollups.shape import asof_sql, dims_sql

# The periods a running task's events are read from: its own and the one before (a task that started
# late in a month); older usage of a long-lived task is left out.
PERIODS_BACK = 1


def task_cost_so_far_rolled(*, organization_id: int, customer_id: int, task_id: str, now: datetime
                            ) -> dict[str | None, Decimal] | None:
    """Cost per rate currency (None: usage no rate prices) of the task's events in the current and the
    previous period, as task_costs prices them; None when the rollups cannot answer (the rate card's
    shape changed since the job's last pass, or the job kept moving under the read), and the caller
    reads the raw events."""
    shape = _shape_if_current(organization_id)
    if shape is None:
        return None
    dims, dims_params = dims_sql(shape)
    asof, asof_params = asof_sql(shape)
    current = Period.of(now)
    first = current.add(-PERIODS_BACK)
    starts = [first.add(i).start for i in range(PERIODS_BACK + 1)]
    sql = f"""
        WITH tail AS MATERIALIZED (
            SELECT e.meter_id, {dims} AS dims, {asof} AS asof, count(*) AS events, sum(e.quantity) AS total,
                   max(e.quantity) AS maximum,
                   (array_agg(e.quantity ORDER BY e.timestamp DESC, e.id DESC))[1] AS latest,
                   max(e.timestamp) AS latest_at, (array_agg(e.id ORDER BY e.timestamp DESC, e.id DESC))[1] AS latest_id
            FROM metering_usageevent e WHERE {_TAIL_SQL} AND e.task_id = %(task_id)s
            GROUP BY 1, 2, 3
        ), groups AS MATERIALIZED (
            SELECT meter_id, dims, asof, sum(events) AS events, sum(total) AS total, max(maximum) AS maximum,
                   (array_agg(latest ORDER BY latest_at DESC, latest_id DESC))[1] AS latest
            FROM (
                SELECT meter_id, dims, asof, events, total, maximum, latest, latest_at, latest_id
                FROM rollups_usage
                WHERE organization_id = %(organization_id)s AND customer_id = %(customer_id)s
                  AND period_start = ANY(%(period_starts)s) AND task_id = %(task_id)s
                UNION ALL SELECT * FROM tail
            ) u
            GROUP BY 1, 2, 3
        )
        SELECT r.currency, coalesce(sum(
            CASE m.aggregation WHEN 'sum' THEN g.total WHEN 'count' THEN g.events::numeric
                 WHEN 'max' THEN g.maximum WHEN 'latest' THEN g.latest ELSE 1::numeric END
            * r.unit_cost / r.per), 0), false, {_MOVED_SQL}
        FROM groups g
        JOIN metering_meter m ON m.id = g.meter_id
        LEFT JOIN LATERAL (
            SELECT rate.unit_cost, rate.per, rate.currency FROM metering_rate rate
            WHERE rate.meter_id = g.meter_id AND rate.effective_from <= g.asof AND g.dims @> rate.dimensions
            ORDER BY rate.dimension_count DESC, rate.effective_from DESC, rate.id DESC
            LIMIT 1
        ) r ON true
        GROUP BY r.currency
    """
    params: dict[str, Any] = {
        **dims_params, **asof_params, "organization_id": organization_id, "customer_id": customer_id,
        "task_id": task_id, "start": first.start_at, "end": current.end_at, "cutoff": now, "period_starts": starts,
    }
    rows = _rows_read(sql, params, organization_id)
    if rows is None:
        return None
    return {currency: cost for currency, cost in rows}
