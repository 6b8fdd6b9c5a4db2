"""One task's cost to serve so far, from the rollups plus their unfolded tail: what a running agent asks
before each step (the value app's budget endpoint), in a few milliseconds however many events the task
has, as the rollups hold a handful of rows per task (meter, rate dimensions, rate version)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from core.periods import Period
from rollups.selectors import _TAIL_SQL
from rollups.services import cursor_get
from rollups.shape import asof_sql, dims_sql, rate_shape

# The periods a running task's events are read from: its own and the one before (a task that started
# late in a month); older usage of a long-lived task is left out.
PERIODS_BACK = 1


def task_cost_so_far_rolled(*, organization_id: int, customer_id: int, task_id: str, now: datetime
                            ) -> dict[str | None, Decimal] | None:
    """Cost per rate currency (None: usage no rate prices) of the task's events in the current and the
    previous period, as task_costs prices them; None when the rollups cannot answer (the rate card's
    shape changed since the job's last pass), and the caller reads the raw events."""
    shape = rate_shape(organization_id=organization_id)
    position = cursor_get(organization_id=organization_id)
    if position.shape is not None and position.shape != shape:
        return None  # the job's next pass regroups; until then the raw events answer
    dims, dims_params = dims_sql(shape)
    asof, asof_params = asof_sql(shape)
    current = Period.of(now)
    first = current.add(-PERIODS_BACK)
    starts = [first.add(i).start for i in range(PERIODS_BACK + 1)]
    # The tail's own condition reads the cursor in this statement (one snapshot with the rollups). The
    # cursor read above is older or the same, and an event unfolded now was unfolded then (not yet begun:
    # at or past its xmax; or in progress: in its xip), so its values bound the tail too, as literals the
    # planner reads the recent events with through the (organization, xid) index, instead of every event
    # of the task.
    tail_where = _TAIL_SQL + """ AND e.task_id = %(task_id)s
        AND (e.xid >= %(xmax_hint)s::bigint OR e.xid = ANY(%(xip_hint)s::text[]::bigint[]))"""
    sql = f"""
        WITH tail AS MATERIALIZED (
            SELECT e.meter_id, {dims} AS dims, {asof} AS asof, count(*) AS events, sum(e.quantity) AS total,
                   max(e.quantity) AS maximum,
                   (array_agg(e.quantity ORDER BY e.timestamp DESC, e.id DESC))[1] AS latest,
                   max(e.timestamp) AS latest_at, (array_agg(e.id ORDER BY e.timestamp DESC, e.id DESC))[1] AS latest_id
            FROM metering_usageevent e WHERE {tail_where}
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
            * r.unit_cost / r.per), 0)
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
        "task_id": task_id, "start": first.start_at, "end": current.end_at, "cutoff": now,
        "period_starts": starts, "xmax_hint": position.xmax, "xip_hint": position.xip,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {currency: cost for currency, cost in cursor.fetchall()}
