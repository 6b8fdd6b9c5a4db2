"""The rollup job: fold the usage events committed since its last pass, and the outcome deltas, into the
rollups of one organization.

Which events are new is decided by transaction ids, not event ids: ids are drawn when a row is written
and a transaction may commit long after a later one, so "id above the last one seen" would skip it.
Each pass reads under one REPEATABLE READ snapshot and records it (xmin, xmax, the in-progress list
xip). An event is new when its transaction is visible now and was not at the recorded snapshot: its
xid is at or above the old xmax, or in the old xip. Snapshots only ever see more, so each committed
event is folded exactly once, whatever order transactions commit in; an idempotent replay never
reaches the table (the key table refuses it), so it cannot count twice either.

One pass per organization at a time (an advisory lock); the lock is taken before the snapshot, so a
pass always starts from its predecessor's cursor.
"""

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from core.periods import Period
from rollups.shape import PERIOD_SQL, RateShape, asof_sql, dims_sql, dims_two_stage_sql, latest_sql, rate_shape

# Advisory lock namespace of the job (the second key is the organization id).
LOCK_NAMESPACE = 0x7A11


@dataclass(frozen=True)
class Cursor:
    xmin: str
    xmax: str
    xip: list[str]
    shape: RateShape | None

    @classmethod
    def start(cls) -> "Cursor":
        return cls("0", "0", [], None)


@dataclass
class AdvanceResult:
    events: int = 0
    outcome_deltas: int = 0
    regrouped_periods: list[str] = field(default_factory=list)
    seconds: float = 0.0


def cursor_get(*, organization_id: int, lock: bool = False) -> Cursor:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT snap_xmin::text, snap_xmax::text, snap_xip::text[], shape FROM rollups_cursor"
            " WHERE organization_id = %s" + (" FOR UPDATE" if lock else ""),
            [organization_id],
        )
        row = cursor.fetchone()
    if row is None:
        return Cursor.start()
    shape = row[3] if isinstance(row[3], dict) else json.loads(row[3])
    return Cursor(row[0], row[1], list(row[2]), RateShape.from_json(shape))


def _new_events_sql(previous: Cursor) -> tuple[str, dict[str, Any]]:
    """The condition on `e` for events folded by no earlier pass and visible to this one (own writes aside)."""
    sql = """e.organization_id = %(organization_id)s AND e.xid >= %(prev_xmin)s::bigint
        AND (e.xid >= %(prev_xmax)s::bigint OR e.xid = ANY(%(prev_xip)s::text[]::bigint[]))
        AND e.xid <> ALL(%(now_skip)s::text[]::bigint[])"""
    return sql, {"prev_xmin": previous.xmin, "prev_xmax": previous.xmax, "prev_xip": previous.xip}


def _fold_usage(*, where: str, params: dict[str, Any], shape: RateShape, periods: list[str] | None) -> int:
    """Add the events matching `where` to the usage, value, daily and customer-period rollups. With
    `periods`, only those periods' usage and value rollups are written (the others are being rebuilt)."""
    dims, dims_params = dims_sql(shape)
    asof, asof_params = asof_sql(shape)
    values, staged_dims, _ = dims_two_stage_sql(shape)
    latest, latest_id = latest_sql(shape)
    if shape.latest:
        staged_latest = "(array_agg(s.latest ORDER BY s.latest_at DESC, s.latest_id DESC))[1]"
        staged_latest_id = "(array_agg(s.latest_id ORDER BY s.latest_at DESC, s.latest_id DESC))[1]"
    else:
        staged_latest, staged_latest_id = "0::numeric", "max(s.latest_id)"
    value_columns = "".join(f", {v} AS v{i}" for i, v in enumerate(values))
    value_groups = "".join(f", {8 + i}" for i in range(len(values)))
    params = {**params, **dims_params, **asof_params}
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS rollups_batch (LIKE rollups_usage) ON COMMIT DROP")
        # Two stages: events grouped by the raw value of each dimension key, then `dims` built per group.
        cursor.execute(f"""
            INSERT INTO rollups_batch
            SELECT s.organization_id, s.customer_id, s.period_start, s.task_id, s.meter_id, {staged_dims}, s.asof,
                   sum(s.events), sum(s.total), max(s.maximum), {staged_latest}, max(s.latest_at),
                   {staged_latest_id}, max(s.max_received_at)
            FROM (
                SELECT e.organization_id, e.customer_id, {PERIOD_SQL} AS period_start, e.task_id, e.meter_id,
                       {asof} AS asof, count(*) AS events{value_columns}, sum(e.quantity) AS total,
                       max(e.quantity) AS maximum, {latest} AS latest, max(e.timestamp) AS latest_at,
                       {latest_id} AS latest_id, max(e.received_at) AS max_received_at
                FROM metering_usageevent e WHERE {where}
                GROUP BY 1, 2, 3, 4, 5, 6{value_groups}
            ) s
            GROUP BY 1, 2, 3, 4, 5, 6, 7
        """, params)
        cursor.execute("SELECT coalesce(sum(events), 0) FROM rollups_batch")
        events = int(cursor.fetchone()[0])
        if not events:
            cursor.execute("DROP TABLE rollups_batch")
            return 0
        period_filter = "" if periods is None else "WHERE b.period_start <> ALL(%(skip_periods)s::date[])"
        cursor.execute(f"""
            INSERT INTO rollups_usage AS r SELECT * FROM rollups_batch b {period_filter}
            ORDER BY organization_id, customer_id, period_start, task_id, meter_id, dims, asof
            ON CONFLICT ON CONSTRAINT rollups_usage_key DO UPDATE SET
                events = r.events + EXCLUDED.events, total = r.total + EXCLUDED.total,
                maximum = greatest(r.maximum, EXCLUDED.maximum),
                latest = CASE WHEN (EXCLUDED.latest_at, EXCLUDED.latest_id) > (r.latest_at, r.latest_id)
                              THEN EXCLUDED.latest ELSE r.latest END,
                latest_id = CASE WHEN (EXCLUDED.latest_at, EXCLUDED.latest_id) > (r.latest_at, r.latest_id)
                                 THEN EXCLUDED.latest_id ELSE r.latest_id END,
                latest_at = greatest(r.latest_at, EXCLUDED.latest_at),
                max_received_at = greatest(r.max_received_at, EXCLUDED.max_received_at)
        """, {"skip_periods": periods or []})
        cursor.execute("SELECT EXISTS (SELECT FROM metering_meter WHERE organization_id = %s"
                       " AND aggregation = 'unique_count')", [params["organization_id"]])
        if cursor.fetchone()[0]:
            skip = "" if periods is None else f"AND {PERIOD_SQL} <> ALL(%(skip_periods)s::date[])"
            cursor.execute(f"""
                INSERT INTO rollups_usage_value
                SELECT DISTINCT e.organization_id, e.customer_id, {PERIOD_SQL}, e.task_id, e.meter_id, {dims},
                       {asof}, CASE WHEN m.unique_property = '' THEN e.task_id
                                    ELSE e.properties ->> m.unique_property END
                FROM metering_usageevent e
                JOIN metering_meter m ON m.id = e.meter_id AND m.aggregation = 'unique_count'
                WHERE {where} {skip}
                ON CONFLICT DO NOTHING
            """, {**params, "skip_periods": periods or []})
        cursor.execute("""
            INSERT INTO rollups_customer_period AS c
            SELECT organization_id, customer_id, period_start, sum(events), max(max_received_at), now()
            FROM rollups_batch GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (organization_id, customer_id, period_start) DO UPDATE SET
                events = c.events + EXCLUDED.events, changed_at = EXCLUDED.changed_at,
                max_received_at = greatest(c.max_received_at, EXCLUDED.max_received_at)
        """)
        cursor.execute("DROP TABLE rollups_batch")
        cursor.execute(f"""
            INSERT INTO rollups_usage_daily AS d
            SELECT e.organization_id, e.customer_id, (e.timestamp AT TIME ZONE 'UTC')::date, e.meter_id,
                   count(*), sum(e.quantity), max(e.quantity), {latest}, max(e.timestamp), {latest_id}
            FROM metering_usageevent e WHERE {where}
            GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
            ON CONFLICT (organization_id, customer_id, day, meter_id) DO UPDATE SET
                events = d.events + EXCLUDED.events, total = d.total + EXCLUDED.total,
                maximum = greatest(d.maximum, EXCLUDED.maximum),
                latest = CASE WHEN (EXCLUDED.latest_at, EXCLUDED.latest_id) > (d.latest_at, d.latest_id)
                              THEN EXCLUDED.latest ELSE d.latest END,
                latest_id = CASE WHEN (EXCLUDED.latest_at, EXCLUDED.latest_id) > (d.latest_at, d.latest_id)
                                 THEN EXCLUDED.latest_id ELSE d.latest_id END,
                latest_at = greatest(d.latest_at, EXCLUDED.latest_at)
        """, params)
    return events


def _regroup(*, organization_id: int, periods: list[Period], shape: RateShape, visible: dict[str, Any]) -> None:
    """Rebuild the usage and value rollups of `periods` from every event this pass can see (the rate card's
    shape changed, so their grouping did: a re-rate)."""
    dims, dims_params = dims_sql(shape)
    asof, asof_params = asof_sql(shape)
    latest, latest_id = latest_sql(shape)
    starts = [p.start for p in periods]
    params = {**visible, **dims_params, **asof_params, "organization_id": organization_id, "starts": starts}
    where = f"""e.organization_id = %(organization_id)s AND {PERIOD_SQL} = ANY(%(starts)s::date[])
        AND e.xid < %(now_xmax)s::bigint AND e.xid <> ALL(%(now_skip)s::text[]::bigint[])"""
    with connection.cursor() as cursor:
        for table in ("rollups_usage", "rollups_usage_value"):
            cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s AND period_start = ANY(%s::date[])",
                           [organization_id, starts])
        cursor.execute(f"""
            INSERT INTO rollups_usage
            SELECT e.organization_id, e.customer_id, {PERIOD_SQL}, e.task_id, e.meter_id, {dims}, {asof},
                   count(*), sum(e.quantity), max(e.quantity), {latest}, max(e.timestamp), {latest_id},
                   max(e.received_at)
            FROM metering_usageevent e WHERE {where}
            GROUP BY 1, 2, 3, 4, 5, 6, 7
        """, params)
        cursor.execute(f"""
            INSERT INTO rollups_usage_value
            SELECT DISTINCT e.organization_id, e.customer_id, {PERIOD_SQL}, e.task_id, e.meter_id, {dims}, {asof},
                   CASE WHEN m.unique_property = '' THEN e.task_id ELSE e.properties ->> m.unique_property END
            FROM metering_usageevent e JOIN metering_meter m ON m.id = e.meter_id AND m.aggregation = 'unique_count'
            WHERE {where}
        """, params)
        cursor.execute("""
            UPDATE rollups_customer_period SET changed_at = now()
            WHERE organization_id = %s AND period_start = ANY(%s::date[])
        """, [organization_id, starts])


def _fold_outcomes(*, organization_id: int) -> int:
    """Move the outcome deltas this pass can see into the counts (the triggers of rollups 0001 write them)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            WITH moved AS (
                DELETE FROM rollups_outcome_delta WHERE organization_id = %(org)s
                RETURNING organization_id, customer_id, period_start, outcome_type_id, status, delta
            ), summed AS (
                SELECT organization_id, customer_id, period_start, outcome_type_id, status, sum(delta) AS delta,
                       count(*) AS n
                FROM moved GROUP BY 1, 2, 3, 4, 5
            ), counted AS (
                INSERT INTO rollups_outcome_count AS c
                SELECT organization_id, customer_id, period_start, outcome_type_id, status, delta FROM summed
                ORDER BY 1, 2, 3, 4, 5
                ON CONFLICT (organization_id, customer_id, period_start, outcome_type_id, status)
                DO UPDATE SET count = c.count + EXCLUDED.count
            ), touched AS (
                INSERT INTO rollups_customer_period AS p
                SELECT DISTINCT organization_id, customer_id, period_start, 0, '-infinity'::timestamptz, now()
                FROM summed ORDER BY 1, 2, 3
                ON CONFLICT (organization_id, customer_id, period_start) DO UPDATE SET changed_at = EXCLUDED.changed_at
            )
            SELECT coalesce(sum(n), 0) FROM summed
        """, {"org": organization_id})
        return int(cursor.fetchone()[0])


def _pass(*, organization_id: int, result: AdvanceResult) -> None:
    previous = cursor_get(organization_id=organization_id, lock=True)
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT txid_snapshot_xmin(s)::text, txid_snapshot_xmax(s)::text,
                   array(SELECT x::text FROM txid_snapshot_xip(s) x), txid_current_if_assigned()::text
            FROM txid_current_snapshot() s
        """)
        xmin, xmax, xip, own = cursor.fetchone()
    # This transaction's own uncommitted events (a caller inside a transaction that also wrote events)
    # are left for a pass that sees them committed: counted in the in-progress list.
    skip = xip + ([own] if own is not None else [])
    now = {"now_xmax": xmax, "now_skip": skip}
    shape = rate_shape(organization_id=organization_id)
    regroup: list[Period] = []
    if previous.shape is not None and previous.shape != shape:
        changed = previous.shape.periods_regrouped_by(shape)
        if changed is None:  # new dimension keys: every period regroups
            with connection.cursor() as cursor:
                cursor.execute("SELECT DISTINCT period_start FROM rollups_usage WHERE organization_id = %s",
                               [organization_id])
                changed = {Period(row[0]) for row in cursor.fetchall()}
        regroup = sorted(changed, key=lambda p: p.start)
    where, params = _new_events_sql(previous)
    params = {**params, **now, "organization_id": organization_id}
    result.events += _fold_usage(where=where + " AND e.xid < %(now_xmax)s::bigint", params=params, shape=shape,
                                 periods=[p.start.isoformat() for p in regroup] if regroup else None)
    if regroup:
        _regroup(organization_id=organization_id, periods=regroup, shape=shape, visible=now)
        result.regrouped_periods += [p.label for p in regroup]
    result.outcome_deltas += _fold_outcomes(organization_id=organization_id)
    # The own transaction's id may lie at or above xmax; then it is new to the next pass anyway.
    stored_xip = xip + ([own] if own is not None and int(own) < int(xmax) else [])
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO rollups_cursor (organization_id, snap_xmin, snap_xmax, snap_xip, shape, advanced_at)
            VALUES (%s, %s::bigint, %s::bigint, %s::text[]::bigint[], %s, now())
            ON CONFLICT (organization_id) DO UPDATE SET snap_xmin = EXCLUDED.snap_xmin,
                snap_xmax = EXCLUDED.snap_xmax, snap_xip = EXCLUDED.snap_xip, shape = EXCLUDED.shape,
                advanced_at = EXCLUDED.advanced_at
        """, [organization_id, min([xmin, *stored_xip], key=int), xmax, stored_xip, json.dumps(shape.as_json())])


def events_index_summarize() -> int:
    """Summarise the block ranges of the events' xid index that filled since the last call (the job's and
    the readers' tail scans read unsummarised ranges whole). Returns the ranges summarised."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT coalesce(sum(brin_summarize_new_values(h.inhrelid)), 0) FROM pg_inherits h
            WHERE h.inhparent = 'metering_usageevent_org_xid'::regclass
        """)
        return int(cursor.fetchone()[0])


def rollups_advance(*, organization_id: int) -> AdvanceResult:
    """One pass of the job for an organization: fold what was committed since the last pass."""
    began = time.perf_counter()
    result = AdvanceResult()
    if connection.in_atomic_block:
        # Inside a caller's transaction (tests, a command): that transaction's snapshot rules, and the
        # row lock on the cursor serialises passes.
        with transaction.atomic():
            _pass(organization_id=organization_id, result=result)
    else:
        events_index_summarize()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, organization_id])
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                _pass(organization_id=organization_id, result=result)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, organization_id])
    result.seconds = time.perf_counter() - began
    return result


def organizations_with_events() -> list[int]:
    """Organizations the job looks at: those with a meter or an outcome type (events need one)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT organization_id FROM metering_meter UNION SELECT organization_id FROM outcomes_outcometype
            ORDER BY 1
        """)
        return [row[0] for row in cursor.fetchall()]


def rollups_advance_all() -> dict[int, AdvanceResult]:
    return {org: rollups_advance(organization_id=org) for org in organizations_with_events()}


def changed_customers(*, organization_id: int, since: datetime | None, shard: int = 0,
                      shards: int = 1) -> list[tuple[int, datetime]]:
    """Customers (of one shard: customer id modulo `shards`) whose rollups (usage or outcome counts)
    changed after `since`, each with its latest change."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT customer_id, max(changed_at) FROM rollups_customer_period
            WHERE organization_id = %s AND changed_at > coalesce(%s, '-infinity'::timestamptz)
              AND customer_id %% %s = %s
            GROUP BY customer_id ORDER BY customer_id
        """, [organization_id, since, shards, shard])
        return list(cursor.fetchall())


def drafts_mark_get(*, organization_id: int, shard: int = 0) -> datetime | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT at FROM rollups_drafts_mark WHERE organization_id = %s AND shard = %s",
                       [organization_id, shard])
        row = cursor.fetchone()
    return row[0] if row else None


def drafts_mark_set(*, organization_id: int, at: datetime, shard: int = 0) -> None:
    """Changes up to `at` were refreshed (never moves back)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO rollups_drafts_mark (organization_id, shard, at) VALUES (%s, %s, %s)
            ON CONFLICT (organization_id, shard) DO UPDATE SET at = greatest(rollups_drafts_mark.at, EXCLUDED.at)
        """, [organization_id, shard, at])
