"""Reads of usage: cost to serve per task, computed by the database."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from core.api.fields import decimal_str
from core.periods import Period
from metering.models import Meter, Rate, UsageEvent
from metering.usage_totals import usage_so_far

# Each meter's quantity over a group of its events, by aggregation (unique_count: _aggregate).
_AGGREGATE = {
    Meter.Aggregation.SUM: "sum(e.quantity)",
    Meter.Aggregation.COUNT: "count(*)::numeric",
    Meter.Aggregation.MAX: "max(e.quantity)",
    Meter.Aggregation.LATEST: "(array_agg(e.quantity ORDER BY e.timestamp DESC, e.id DESC))[1]",
}

# Aggregations whose value over a group can be computed from the values over any split of the group:
# (per part, of the parts). Exact in numeric.
_TWO_STAGE = {
    Meter.Aggregation.SUM: ("sum(e.quantity)", "sum(r.quantity)"),
    Meter.Aggregation.COUNT: ("count(*)::numeric", "sum(r.quantity)"),
    Meter.Aggregation.MAX: ("max(e.quantity)", "max(r.quantity)"),
}

# A piece of SQL and the values of its placeholders. Every value is bound by name, none is pasted into
# the text, so pieces combine in any order: a statement's parameters are the union of its pieces'.
_Param = str | int | datetime
_Sql = tuple[str, dict[str, _Param]]

_EVENTS_SQL = """metering_usageevent e
    WHERE e.organization_id = %(organization_id)s AND e.customer_id = %(customer_id)s
      AND e.timestamp >= %(start)s AND e.timestamp < %(end)s
      AND e.received_at <= %(cutoff)s"""


@dataclass(frozen=True)
class TaskCost:
    task_id: str | None
    currency: str | None  # None: usage that matched no rate
    cost: Decimal
    events: int


@dataclass(frozen=True)
class _MeterAggregation:
    id: int
    aggregation: Meter.Aggregation
    unique_property: str


def _meter_aggregations(organization_id: int) -> list[_MeterAggregation]:
    rows = (
        Meter.objects.filter(organization_id=organization_id).order_by("id")
        .values_list("id", "aggregation", "unique_property")
    )
    return [_MeterAggregation(pk, Meter.Aggregation(aggregation), prop) for pk, aggregation, prop in rows]


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


def _asof_sql(boundaries: list[datetime]) -> _Sql:
    """The rate version an event falls in: the latest boundary at or before it, else the period start."""
    if not boundaries:
        return "%(start)s::timestamptz", {}
    names = [f"boundary{i}" for i in range(len(boundaries))]
    whens = " ".join(f"WHEN e.timestamp >= %({name})s THEN %({name})s::timestamptz" for name in reversed(names))
    return f"CASE {whens} ELSE %(start)s::timestamptz END", dict(zip(names, boundaries, strict=True))


def _aggregate(meter: _MeterAggregation) -> _Sql:
    if meter.aggregation != Meter.Aggregation.UNIQUE_COUNT:
        return _AGGREGATE[meter.aggregation], {}
    if not meter.unique_property:
        return "count(DISTINCT e.task_id)::numeric", {}
    name = f"property{meter.id}"
    return f"count(DISTINCT e.properties ->> %({name})s::text)::numeric", {name: meter.unique_property}


def _meter_case(column: str, expressions: dict[int, _Sql]) -> _Sql:
    """`CASE <column> WHEN <meter id> THEN <expression> ... END`."""
    whens = " ".join(f"WHEN %(meter{meter_id})s THEN {sql}" for meter_id, (sql, _) in expressions.items())
    params: dict[str, _Param] = {f"meter{meter_id}": meter_id for meter_id in expressions}
    for _, expression_params in expressions.values():
        params.update(expression_params)
    return f"CASE {column} {whens} END", params


def _dims_sql(keys: list[str], values: list[str]) -> _Sql:
    """The rate dimensions of a group as one object: the i-th key paired with the i-th value."""
    if not keys:
        return "'{}'::jsonb", {}
    pairs = ", ".join(f"%(key{i})s::text, {value}" for i, value in enumerate(values))
    return f"jsonb_strip_nulls(jsonb_build_object({pairs}))", {f"key{i}": key for i, key in enumerate(keys)}


def _grouped_sql_one_stage(keys: list[str], meters: list[_MeterAggregation], asof: _Sql) -> _Sql:
    """Usage per (task, meter, dimensions, rate version), each meter aggregated its way over its rows."""
    dims_sql, dims_params = _dims_sql(keys, [f"e.properties -> %(key{i})s::text" for i in range(len(keys))])
    quantity_sql, quantity_params = (
        _meter_case("e.meter_id", {meter.id: _aggregate(meter) for meter in meters}) if meters
        else ("sum(e.quantity)", {})
    )
    sql = f"""
        SELECT e.task_id, e.meter_id, {dims_sql} AS dims, {asof[0]} AS asof,
               {quantity_sql} AS quantity, count(*) AS events
        FROM {_EVENTS_SQL}
        GROUP BY 1, 2, 3, 4
    """
    return sql, {**dims_params, **asof[1], **quantity_params}


def _grouped_sql_two_stage(keys: list[str], meters: list[_MeterAggregation], asof: _Sql) -> _Sql | None:
    """The same groups, quantities and counts as the one-stage form, faster when rates have dimensions;
    None when a meter's aggregation does not split (_TWO_STAGE).

    Building the dimensions object for every row was most of the query's cost (a third of it goes). Rows
    are first grouped by the raw value of each dimension key, a finer grouping (JSON null, a missing key
    and nested nulls are told apart), and the object is built once per such group; the second stage
    merges the groups that share an object.
    """
    if not keys or any(meter.aggregation not in _TWO_STAGE for meter in meters):
        return None
    if meters:
        inner_sql, ids = _meter_case("e.meter_id", {m.id: (_TWO_STAGE[m.aggregation][0], {}) for m in meters})
        outer_sql, _ = _meter_case("r.meter_id", {m.id: (_TWO_STAGE[m.aggregation][1], {}) for m in meters})
    else:
        inner_sql, outer_sql, ids = "sum(e.quantity)", "sum(r.quantity)", {}
    dims_sql, dims_params = _dims_sql(keys, [f"r.v{i}" for i in range(len(keys))])
    values_sql = ", ".join(f"e.properties -> %(key{i})s::text AS v{i}" for i in range(len(keys)))
    sql = f"""
        SELECT r.task_id, r.meter_id, {dims_sql} AS dims, r.asof,
               {outer_sql} AS quantity, sum(r.events) AS events
        FROM (
            SELECT e.task_id, e.meter_id, {values_sql}, {asof[0]} AS asof,
                   {inner_sql} AS quantity, count(*) AS events
            FROM {_EVENTS_SQL}
            GROUP BY {", ".join(str(i) for i in range(1, len(keys) + 4))}
        ) r
        GROUP BY 1, 2, 3, 4
    """
    return sql, {**dims_params, **asof[1], **ids}


def rated_usage_sql(*, organization_id: int, customer_id: int, start: datetime, end: datetime, cutoff: datetime
                    ) -> tuple[str, dict[str, Any]]:
    """`WITH grouped …, rated …` and its parameters: usage of [start, end) received by `cutoff`, aggregated
    by (task, meter, rate dimensions, rate version) in `grouped`, and the rate of each distinct (meter,
    dimensions, version) in `rated`, for a query that joins them (g.meter_id, g.dims, g.asof).

    The rate lookup runs once per distinct (meter, dimensions, version), a handful per customer, rather
    than once per group. MATERIALIZED: both CTEs are read twice or joined; inlined, the planner would run
    the rate lookup once per group again. The sums stay exact (numeric, never float)."""
    keys = _dimension_keys(organization_id)
    meters = _meter_aggregations(organization_id)
    asof = _asof_sql(_rate_boundaries(organization_id, start, end))
    grouped_sql, grouped_params = (
        _grouped_sql_two_stage(keys, meters, asof) or _grouped_sql_one_stage(keys, meters, asof)
    )
    sql = f"""
        WITH grouped AS MATERIALIZED ({grouped_sql}
        ), rated AS MATERIALIZED (
            SELECT k.meter_id, k.dims, k.asof, r.unit_cost, r.per, r.currency
            FROM (SELECT DISTINCT meter_id, dims, asof FROM grouped) k
            LEFT JOIN LATERAL (
                SELECT rate.unit_cost, rate.per, rate.currency FROM metering_rate rate
                WHERE rate.meter_id = k.meter_id AND rate.effective_from <= k.asof AND k.dims @> rate.dimensions
                ORDER BY rate.dimension_count DESC, rate.effective_from DESC, rate.id DESC
                LIMIT 1
            ) r ON true
        )"""
    params = {**grouped_params, "organization_id": organization_id, "customer_id": customer_id, "start": start,
              "end": end, "cutoff": cutoff}
    return sql, params


def task_costs(
    *, organization_id: int, customer_id: int, start: datetime, end: datetime, cutoff: datetime
) -> list[TaskCost]:
    """Cost to serve per task for events in [start, end) received by `cutoff`.

    Usage is first aggregated by (task, meter, rate dimensions, rate version); the rate lookup then runs
    once per distinct (meter, dimensions, version), a handful per customer, rather than once per group,
    and its result is joined back to the groups. The sums stay exact (numeric, never float).
    """
    with_sql, params = rated_usage_sql(organization_id=organization_id, customer_id=customer_id, start=start,
                                       end=end, cutoff=cutoff)
    sql = f"""{with_sql}
        SELECT g.task_id, r.currency, coalesce(sum(g.quantity * r.unit_cost / r.per), 0), sum(g.events)
        FROM grouped g
        JOIN rated r ON r.meter_id = g.meter_id AND r.dims = g.dims AND r.asof = g.asof
        GROUP BY g.task_id, r.currency
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [TaskCost(task_id, currency, cost, int(events)) for task_id, currency, cost, events in cursor.fetchall()]


# The event debugger: find events, explain their rate, summarise a customer's usage.


def usage_event_by_key(*, organization_id: int, idempotency_key: str) -> UsageEvent | None:
    """The event stored under a key: the key table says where it lives (customer, timestamp), so the
    lookup uses the (customer_id, timestamp) index of one partition."""
    sql = """
        SELECT e.id FROM metering_usagekey k
        JOIN metering_usageevent e ON e.customer_id = k.customer_id AND e.timestamp = k.timestamp
             AND e.organization_id = k.organization_id AND e.idempotency_key = k.idempotency_key
        WHERE k.organization_id = %s AND k.idempotency_key = %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [organization_id, idempotency_key])
        row = cursor.fetchone()
    if row is None:
        return None
    return UsageEvent.objects.filter(organization_id=organization_id, id=row[0]).select_related("meter").first()


def usage_events_filtered(
    *, organization_id: int, customer_id: int, task_id: str | None = None, meter_id: int | None = None,
    start: datetime | None = None, end: datetime | None = None,
) -> QuerySet[UsageEvent]:
    """A customer's usage events, optionally of one task or meter, in [start, end)."""
    events = UsageEvent.objects.filter(organization_id=organization_id, customer_id=customer_id)
    if task_id is not None:
        events = events.filter(task_id=task_id)
    if meter_id is not None:
        events = events.filter(meter_id=meter_id)
    if start is not None:
        events = events.filter(timestamp__gte=start)
    if end is not None:
        events = events.filter(timestamp__lt=end)
    return events


def usage_event_page(
    *, organization_id: int, customer_id: int, task_id: str | None = None, meter_id: int | None = None,
    start: datetime | None = None, end: datetime | None = None, after: tuple[datetime, int] | None = None,
    limit: int,
) -> list[UsageEvent]:
    """Newest first, `limit` + 1 rows (the extra one tells the caller there is a next page)."""
    events = usage_events_filtered(organization_id=organization_id, customer_id=customer_id, task_id=task_id,
                                   meter_id=meter_id, start=start, end=end)
    if after is not None:
        events = events.filter(Q(timestamp__lt=after[0]) | Q(timestamp=after[0], id__lt=after[1]))
    return list(events.order_by("-timestamp", "-id")[: limit + 1])


@dataclass(frozen=True)
class RateMatch:
    rate: Rate | None
    reason: str | None  # why no rate applies: no_rate_for_meter, no_rate_effective, no_rate_matching_dimensions


def rate_for_event(*, event: UsageEvent) -> RateMatch:
    """The rate that prices an event, chosen as task_costs chooses it: the latest version in force at the
    event's time among rates whose dimensions its properties contain, the most specific first."""
    rates = Rate.objects.filter(organization_id=event.organization_id, meter_id=event.meter_id)
    if not rates.exists():
        return RateMatch(None, "no_rate_for_meter")
    effective = rates.filter(effective_from__lte=event.timestamp)
    if not effective.exists():
        return RateMatch(None, "no_rate_effective")
    match = (
        effective.filter(dimensions__contained_by=event.properties)
        .order_by("-dimension_count", "-effective_from", "-id")
        .first()
    )
    if match is None:
        return RateMatch(None, "no_rate_matching_dimensions")
    return RateMatch(match, None)


@dataclass(frozen=True)
class MeterUsage:
    meter: Meter
    events_today: int
    quantity_today: Decimal
    events_period: int
    quantity_period: Decimal
    last_event_at: datetime | None


@dataclass(frozen=True)
class UsageSummary:
    """A customer's usage so far: today (UTC) and this period, per meter."""

    today: date
    period: Period
    meters: list[MeterUsage]


def usage_summary(*, organization_id: int, customer_id: int, now: datetime) -> UsageSummary:
    """Per meter of the organization: events and quantity (aggregated the meter's way) today and in
    the period holding `now`, and the time of the customer's last event on it."""
    day_start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    period = Period.of(day_start)
    so_far = usage_so_far(organization_id=organization_id, customer_id=customer_id, day_start=day_start,
                          period_start=period.start_at, period_end=period.end_at)
    sql = """
        SELECT m.id, last.timestamp FROM metering_meter m
        LEFT JOIN LATERAL (
            SELECT e.timestamp FROM metering_usageevent e
            WHERE e.customer_id = %s AND e.organization_id = %s AND e.meter_id = m.id
            ORDER BY e.timestamp DESC LIMIT 1
        ) last ON true
        WHERE m.organization_id = %s
        ORDER BY m.code
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [customer_id, organization_id, organization_id])
        rows = cursor.fetchall()
    meters = Meter.objects.in_bulk([row[0] for row in rows])
    nothing = (0, Decimal(0), 0, Decimal(0))
    return UsageSummary(
        today=day_start.date(), period=period,
        meters=[MeterUsage(meters[meter_id], *so_far.get(meter_id, nothing), last) for meter_id, last in rows],
    )


def usage_event_data(event: UsageEvent, *, customer: str, meter: str) -> dict[str, Any]:
    """A usage event as the API shows it (lists and traces alike)."""
    return {
        "idempotency_key": event.idempotency_key, "customer": customer, "meter": meter,
        "quantity": decimal_str(event.quantity), "timestamp": event.timestamp, "task_id": event.task_id,
        "properties": event.properties, "received_at": event.received_at,
    }


def meters_by_id(*, ids: list[int]) -> dict[int, Meter]:
    return Meter.objects.in_bulk(ids)


def meter_codes(*, organization_id: int) -> dict[int, str]:
    """The organization's meters: code by id."""
    return dict(Meter.objects.filter(organization_id=organization_id).values_list("id", "code"))


def rate_list(*, organization_id: int) -> QuerySet[Rate]:
    """Every version of the organization's rates, by meter and date."""
    return Rate.objects.filter(organization_id=organization_id).order_by("meter_id", "effective_from", "pk")


def usage_event_cost(*, event: UsageEvent, rate: Rate) -> Decimal | None:
    """What the event alone costs at `rate`; None when its meter does not sum its events (count, max,
    latest), as its cost is then priced per task, not per event."""
    if event.meter.aggregation != Meter.Aggregation.SUM:
        return None
    return event.quantity * rate.unit_cost / rate.per
