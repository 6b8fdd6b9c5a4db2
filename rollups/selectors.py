"""Reads of the rollups: cost per task, quantity per meter, outcome counts, usage so far.

Every read is the rollups plus their tail: the events the job has not folded yet, found through the
cursor read in the same statement (one snapshot, so an event is in exactly one of the two). Readers are
thus exact at once, and the job's pace decides only how long the tail is.

A read gives None when the rollups cannot answer as the raw events would, and the caller reads the raw
events instead: the rate card's shape changed since the job's last pass (its next pass re-rates), or
the caller's cutoff is older than an event already folded in (a re-run as of a past cutoff).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from core.periods import Period
from metering.selectors import MeterUsage, TaskCost, UsageSummary, meter_codes, meters_by_id
from rollups.services import cursor_get
from rollups.shape import RateShape, asof_sql, dims_sql, rate_shape

ZERO = Decimal(0)
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)

# Events the job has not folded: visible here, and not at its last pass (no cursor yet: every event). The
# cursor's values are read first and written into the statement, so the planner sees how few events lie
# past them and reads those through the xid index; `_MOVED_SQL`, in the same statement, says whether a
# pass committed in between (the caller then reads again: rollups and tail would overlap).
_TAIL_SQL = """e.organization_id = %(organization_id)s
    AND (e.xid >= %(tail_xmax)s::bigint OR e.xid = ANY(%(tail_xip)s::bigint[]))
    AND e.customer_id = %(customer_id)s AND e.timestamp >= %(start)s AND e.timestamp < %(end)s
    AND e.received_at <= %(cutoff)s"""

_MOVED_SQL = """(SELECT snap_xmax FROM rollups_cursor WHERE organization_id = %(organization_id)s)
    IS DISTINCT FROM %(tail_cursor)s::bigint"""

_ROLLUP_WHERE = """organization_id = %(organization_id)s AND customer_id = %(customer_id)s
    AND period_start = %(period_start)s"""


@dataclass(frozen=True)
class _Read:
    sql: str
    params: dict[str, Any]


def _tail_params(organization_id: int) -> dict[str, Any]:
    cursor = cursor_get(organization_id=organization_id)
    started = cursor.shape is not None
    return {"tail_xmax": cursor.xmax, "tail_xip": cursor.xip, "tail_cursor": cursor.xmax if started else None}


def _rows_read(sql: str, params: dict[str, Any], organization_id: int,
               tail: dict[str, Any] | None = None) -> list[tuple[Any, ...]] | None:
    """The rows of a read whose last two columns are (stale, moved), without them; None when stale. Read
    again when a pass of the job committed between the cursor's read and the statement."""
    for _ in range(5):
        with connection.cursor() as cursor:
            cursor.execute(sql, {**params, **(tail or _tail_params(organization_id))})
            tail = None
            rows = cursor.fetchall()
        if not rows or not rows[0][-1]:
            break
    else:
        return None  # the job kept moving under this read: the raw events answer
    if rows and rows[0][-2]:
        return None
    return [row[:-2] for row in rows]


def _shape_if_current(organization_id: int) -> RateShape | None:
    shape = rate_shape(organization_id=organization_id)
    stored = cursor_get(organization_id=organization_id).shape
    if stored is not None and stored != shape:
        return None  # the job's next pass regroups; until then the raw events answer
    return shape


def _groups_sql(*, organization_id: int, customer_id: int, period: Period, cutoff: datetime,
                shape: RateShape) -> _Read:
    """CTEs `groups` (task, meter, dims, asof and every aggregate) and `uniques` (distinct values of
    unique_count meters per group), over rollups plus tail; and `stale` (an event folded after cutoff)."""
    dims, dims_params = dims_sql(shape)
    asof, asof_params = asof_sql(shape)
    sql = f"""
        tail AS MATERIALIZED (
            SELECT e.task_id, e.meter_id, {dims} AS dims, {asof} AS asof, count(*) AS events,
                   sum(e.quantity) AS total, max(e.quantity) AS maximum,
                   (array_agg(e.quantity ORDER BY e.timestamp DESC, e.id DESC))[1] AS latest,
                   max(e.timestamp) AS latest_at, (array_agg(e.id ORDER BY e.timestamp DESC, e.id DESC))[1] AS latest_id
            FROM metering_usageevent e WHERE {_TAIL_SQL}
            GROUP BY 1, 2, 3, 4
        ), groups AS MATERIALIZED (
            SELECT task_id, meter_id, dims, asof, sum(events) AS events, sum(total) AS total,
                   max(maximum) AS maximum, (array_agg(latest ORDER BY latest_at DESC, latest_id DESC))[1] AS latest
            FROM (
                SELECT task_id, meter_id, dims, asof, events, total, maximum, latest, latest_at, latest_id
                FROM rollups_usage WHERE {_ROLLUP_WHERE}
                UNION ALL SELECT * FROM tail
            ) u
            GROUP BY 1, 2, 3, 4
        ), uniques AS MATERIALIZED (
            SELECT task_id, meter_id, dims, asof, count(DISTINCT value) AS n FROM (
                SELECT task_id, meter_id, dims, asof, value FROM rollups_usage_value WHERE {_ROLLUP_WHERE}
                UNION ALL
                SELECT e.task_id, e.meter_id, {dims}, {asof},
                       CASE WHEN m.unique_property = '' THEN e.task_id ELSE e.properties ->> m.unique_property END
                FROM metering_usageevent e
                JOIN metering_meter m ON m.id = e.meter_id AND m.aggregation = 'unique_count'
                WHERE {_TAIL_SQL}
            ) v GROUP BY 1, 2, 3, 4
        ), stale AS (
            SELECT EXISTS (SELECT FROM rollups_usage WHERE {_ROLLUP_WHERE} AND max_received_at > %(cutoff)s) AS stale,
                   {_MOVED_SQL} AS moved
        )"""
    params = {**dims_params, **asof_params, "organization_id": organization_id, "customer_id": customer_id,
              "start": period.start_at, "end": period.end_at, "cutoff": cutoff, "period_start": period.start}
    return _Read(sql, params)


_QUANTITY_SQL = """CASE m.aggregation WHEN 'sum' THEN g.total WHEN 'count' THEN g.events::numeric
    WHEN 'max' THEN g.maximum WHEN 'latest' THEN g.latest
    WHEN 'unique_count' THEN coalesce(u.n, 0)::numeric END"""
_UNIQUES_JOIN = """LEFT JOIN uniques u ON u.task_id IS NOT DISTINCT FROM g.task_id AND u.meter_id = g.meter_id
    AND u.dims = g.dims AND u.asof = g.asof"""


def task_costs_rolled(*, organization_id: int, customer_id: int, period: Period,
                      cutoff: datetime) -> list[TaskCost] | None:
    """Cost to serve per task, as metering.selectors.task_costs computes it from the raw events."""
    shape = _shape_if_current(organization_id)
    if shape is None:
        return None
    read = _groups_sql(organization_id=organization_id, customer_id=customer_id, period=period, cutoff=cutoff,
                       shape=shape)
    sql = f"""
        WITH {read.sql}, quantities AS MATERIALIZED (
            SELECT g.task_id, g.meter_id, g.dims, g.asof, g.events, {_QUANTITY_SQL} AS quantity
            FROM groups g JOIN metering_meter m ON m.id = g.meter_id {_UNIQUES_JOIN}
        ), rated AS MATERIALIZED (
            SELECT k.meter_id, k.dims, k.asof, r.unit_cost, r.per, r.currency
            FROM (SELECT DISTINCT meter_id, dims, asof FROM quantities) k
            LEFT JOIN LATERAL (
                SELECT rate.unit_cost, rate.per, rate.currency FROM metering_rate rate
                WHERE rate.meter_id = k.meter_id AND rate.effective_from <= k.asof AND k.dims @> rate.dimensions
                ORDER BY rate.dimension_count DESC, rate.effective_from DESC, rate.id DESC
                LIMIT 1
            ) r ON true
        )
        SELECT q.task_id, r.currency, coalesce(sum(q.quantity * r.unit_cost / r.per), 0), sum(q.events),
               (SELECT stale FROM stale), (SELECT moved FROM stale)
        FROM quantities q
        JOIN rated r ON r.meter_id = q.meter_id AND r.dims = q.dims AND r.asof = q.asof
        GROUP BY q.task_id, r.currency
    """
    rows = _rows_read(sql, read.params, organization_id)
    if rows is None:
        return None
    return [TaskCost(task_id, currency, cost, int(events)) for task_id, currency, cost, events in rows]


def usage_totals_rolled(*, organization_id: int, customer_id: int, period: Period,
                        cutoff: datetime) -> dict[int, Decimal] | None:
    """Each meter's quantity for the period, as metering.usage_totals.usage_totals computes it."""
    shape = _shape_if_current(organization_id)
    if shape is None:
        return None
    read = _groups_sql(organization_id=organization_id, customer_id=customer_id, period=period, cutoff=cutoff,
                       shape=shape)
    sql = f"""
        WITH {read.sql}, units AS (
            SELECT meter_id, events, total, maximum, latest, latest_at, latest_id
            FROM rollups_usage WHERE {_ROLLUP_WHERE}
            UNION ALL SELECT meter_id, events, total, maximum, latest, latest_at, latest_id FROM tail
        ), per_meter AS (
            SELECT meter_id, sum(events) AS events, sum(total) AS total, max(maximum) AS maximum,
                   (array_agg(latest ORDER BY latest_at DESC, latest_id DESC))[1] AS latest
            FROM units GROUP BY 1
        ), distinct_values AS (
            SELECT v.meter_id, count(DISTINCT v.value) AS n FROM (
                SELECT meter_id, value FROM rollups_usage_value WHERE {_ROLLUP_WHERE}
                UNION ALL
                SELECT e.meter_id,
                       CASE WHEN m.unique_property = '' THEN e.task_id ELSE e.properties ->> m.unique_property END
                FROM metering_usageevent e
                JOIN metering_meter m ON m.id = e.meter_id AND m.aggregation = 'unique_count'
                WHERE {_TAIL_SQL}
            ) v GROUP BY 1
        )
        SELECT p.meter_id, CASE m.aggregation WHEN 'sum' THEN p.total WHEN 'count' THEN p.events::numeric
                   WHEN 'max' THEN p.maximum WHEN 'latest' THEN p.latest
                   WHEN 'unique_count' THEN coalesce(d.n, 0)::numeric END,
               (SELECT stale FROM stale), (SELECT moved FROM stale)
        FROM per_meter p JOIN metering_meter m ON m.id = p.meter_id
        LEFT JOIN distinct_values d ON d.meter_id = p.meter_id
    """
    rows = _rows_read(sql, read.params, organization_id)
    if rows is None:
        return None
    return {meter_id: Decimal(quantity or 0) for meter_id, quantity in rows}


@dataclass(frozen=True)
class OutcomeCount:
    outcome_type_id: int
    status: str
    count: int


def outcome_counts(*, organization_id: int, customer_id: int, period: Period) -> list[OutcomeCount]:
    """Outcome events of the period by type and status: the counts plus the deltas not folded yet."""
    sql = """
        SELECT outcome_type_id, status, sum(n) FROM (
            SELECT outcome_type_id, status, count AS n FROM rollups_outcome_count
            WHERE organization_id = %(org)s AND customer_id = %(customer)s AND period_start = %(period)s
            UNION ALL
            SELECT outcome_type_id, status, delta FROM rollups_outcome_delta
            WHERE organization_id = %(org)s AND customer_id = %(customer)s AND period_start = %(period)s
        ) c GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1, 2
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"org": organization_id, "customer": customer_id, "period": period.start})
        return [OutcomeCount(type_id, status, int(n)) for type_id, status, n in cursor.fetchall()]


@dataclass(frozen=True)
class MeterSoFar:
    events_today: int
    quantity_today: Decimal
    events: int
    quantity: Decimal
    last_event_at: datetime | None


def usage_so_far_rolled(*, organization_id: int, customer_id: int, today: date, period: Period,
                        tail: dict[str, Any] | None = None) -> dict[int, MeterSoFar]:
    """Per meter: events and quantity today and this period, and the last event's time, from the daily
    rollups plus their tail (unique_count meters count distinct values over the period's rollups)."""
    sql = f"""
        WITH tail AS MATERIALIZED (
            SELECT (e.timestamp AT TIME ZONE 'UTC')::date AS day, e.meter_id, count(*) AS events,
                   sum(e.quantity) AS total, max(e.quantity) AS maximum,
                   (array_agg(e.quantity ORDER BY e.timestamp DESC, e.id DESC))[1] AS latest,
                   max(e.timestamp) AS latest_at, (array_agg(e.id ORDER BY e.timestamp DESC, e.id DESC))[1] AS latest_id
            FROM metering_usageevent e WHERE {_TAIL_SQL}
            GROUP BY 1, 2
        ), days AS (
            SELECT day, meter_id, events, total, maximum, latest, latest_at, latest_id FROM rollups_usage_daily
            WHERE organization_id = %(organization_id)s AND customer_id = %(customer_id)s
              AND day >= %(period_start)s AND day < %(period_end)s
            UNION ALL SELECT * FROM tail
        )
        SELECT d.meter_id, m.aggregation,
               sum(d.events) FILTER (WHERE d.day = %(today)s), sum(d.total) FILTER (WHERE d.day = %(today)s),
               max(d.maximum) FILTER (WHERE d.day = %(today)s),
               (array_agg(d.latest ORDER BY d.latest_at DESC, d.latest_id DESC) FILTER (WHERE d.day = %(today)s))[1],
               sum(d.events), sum(d.total), max(d.maximum),
               (array_agg(d.latest ORDER BY d.latest_at DESC, d.latest_id DESC))[1], max(d.latest_at),
               false, {_MOVED_SQL}
        FROM days d JOIN metering_meter m ON m.id = d.meter_id
        GROUP BY 1, 2
    """
    params: dict[str, Any] = {"organization_id": organization_id, "customer_id": customer_id, "start": period.start_at,
              "end": period.end_at, "cutoff": _FAR_FUTURE, "period_start": period.start,
              "period_end": period.end, "today": today}
    rows = _rows_read(sql, params, organization_id, tail) or []
    result = {}
    for meter_id, aggregation, e_today, t_today, m_today, l_today, events, total, maximum, latest, last in rows:
        picked_today = {"sum": t_today, "count": e_today, "max": m_today, "latest": l_today}.get(aggregation)
        picked = {"sum": total, "count": events, "max": maximum, "latest": latest}.get(aggregation)
        result[meter_id] = MeterSoFar(int(e_today or 0), Decimal(picked_today or 0), int(events or 0),
                                      Decimal(picked or 0), last)
    return result


def events_unfolded(*, organization_id: int, customer_id: int) -> tuple[int, int | None]:
    """How many of the customer's events the job has not folded yet, and the newest one's xid."""
    tail = _tail_params(organization_id)
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*), max(e.xid) FROM metering_usageevent e
            WHERE e.organization_id = %(organization_id)s AND e.customer_id = %(customer_id)s
              AND (e.xid >= %(tail_xmax)s::bigint OR e.xid = ANY(%(tail_xip)s::bigint[]))
        """, {**tail, "organization_id": organization_id, "customer_id": customer_id})
        count, newest = cursor.fetchone()
    return int(count), newest


# For other readers of the rollups plus their tail (rollups/task_cost.py): the condition on `e` and the
# parameters it needs besides organization_id, customer_id, start, end and cutoff.
TAIL_SQL = _TAIL_SQL


def tail_params(*, organization_id: int) -> dict[str, Any]:
    return _tail_params(organization_id)


def _distinct_so_far(*, organization_id: int, customer_id: int, day_start: datetime, period: Period,
                     tail: dict[str, Any]) -> dict[int, tuple[int, int]]:
    """Per unique_count meter: (distinct values today, distinct values this period). The period's from its
    distinct values folded so far plus the tail's (a value in both counts once, so a pass of the job
    between the two reads changes nothing); today's from today's events, a day's worth of rows."""
    value = "CASE WHEN m.unique_property = '' THEN e.task_id ELSE e.properties ->> m.unique_property END"
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH period_values AS (
                SELECT v.meter_id, v.value FROM rollups_usage_value v
                WHERE v.organization_id = %(organization_id)s AND v.customer_id = %(customer_id)s
                  AND v.period_start = %(period_start)s
                UNION
                SELECT e.meter_id, {value} FROM metering_usageevent e
                JOIN metering_meter m ON m.id = e.meter_id AND m.aggregation = 'unique_count'
                WHERE {_TAIL_SQL}
            ), today_values AS (
                SELECT e.meter_id, {value} AS value FROM metering_usageevent e
                JOIN metering_meter m ON m.id = e.meter_id AND m.aggregation = 'unique_count'
                WHERE e.organization_id = %(organization_id)s AND e.customer_id = %(customer_id)s
                  AND e.timestamp >= %(day_start)s AND e.timestamp < %(end)s
            )
            SELECT m.id, (SELECT count(DISTINCT value) FROM today_values t WHERE t.meter_id = m.id),
                   (SELECT count(DISTINCT value) FROM period_values p WHERE p.meter_id = m.id)
            FROM metering_meter m WHERE m.organization_id = %(organization_id)s AND m.aggregation = 'unique_count'
        """, {**tail, "organization_id": organization_id, "customer_id": customer_id, "start": period.start_at,
              "end": period.end_at, "cutoff": _FAR_FUTURE, "period_start": period.start, "day_start": day_start})
        return {meter_id: (int(today), int(in_period)) for meter_id, today, in_period in cursor.fetchall()}


def usage_summary_rolled(*, organization_id: int, customer_id: int, now: datetime) -> UsageSummary:
    """metering.selectors.usage_summary from the daily rollups plus their tail: a few rows per day and
    meter instead of the period's events. A unique_count meter's distinct count does not add up across
    days: its period count is read from the period's distinct values (rollups_usage_value) plus the
    tail, and today's from today's events."""
    with connection.cursor() as cursor:  # one read: whether a meter counts distinct values, and the cursor
        cursor.execute("""
            SELECT EXISTS (SELECT FROM metering_meter WHERE organization_id = %(org)s AND aggregation = 'unique_count'),
                   (SELECT snap_xmax::text FROM rollups_cursor WHERE organization_id = %(org)s),
                   (SELECT snap_xip::text[] FROM rollups_cursor WHERE organization_id = %(org)s)
        """, {"org": organization_id})
        has_unique, xmax, xip = cursor.fetchone()
    tail = {"tail_xmax": xmax or "0", "tail_xip": list(xip or []), "tail_cursor": xmax}
    day_start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    period = Period.of(day_start)
    so_far = usage_so_far_rolled(organization_id=organization_id, customer_id=customer_id,
                                 today=day_start.date(), period=period, tail=tail)
    if has_unique:
        for meter_id, (today, in_period) in _distinct_so_far(organization_id=organization_id, customer_id=customer_id,
                                                             day_start=day_start, period=period, tail=tail).items():
            known = so_far.get(meter_id) or MeterSoFar(0, ZERO, 0, ZERO, None)
            so_far[meter_id] = MeterSoFar(known.events_today, Decimal(today), known.events, Decimal(in_period),
                                          known.last_event_at)
    with connection.cursor() as cursor:  # the last event ever, folded or in the tail of any period
        cursor.execute("""
            SELECT meter_id, max(latest_at) FROM (
                SELECT meter_id, latest_at FROM rollups_usage_daily
                WHERE organization_id = %(organization_id)s AND customer_id = %(customer_id)s
                UNION ALL
                SELECT e.meter_id, e.timestamp FROM metering_usageevent e
                WHERE e.organization_id = %(organization_id)s AND e.customer_id = %(customer_id)s
                  AND (e.xid >= %(tail_xmax)s::bigint OR e.xid = ANY(%(tail_xip)s::bigint[]))
            ) d GROUP BY 1
        """, {**tail, "organization_id": organization_id, "customer_id": customer_id})
        last = dict(cursor.fetchall())
    codes = meter_codes(organization_id=organization_id)
    meters = meters_by_id(ids=list(codes))
    usage = []
    for meter_id in sorted(codes, key=lambda pk: codes[pk]):
        row = so_far.get(meter_id)
        newest = max((t for t in (last.get(meter_id), row.last_event_at if row else None) if t), default=None)
        usage.append(MeterUsage(meters[meter_id], row.events_today if row else 0,
                                row.quantity_today if row else ZERO, row.events if row else 0,
                                row.quantity if row else ZERO, newest))
    return UsageSummary(today=day_start.date(), period=period, meters=usage)
