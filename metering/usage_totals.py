"""Quantity per meter for one customer, aggregated each meter's way (sum, count, max, latest or
unique count): read by billing for usage overage and by the event debugger's usage summary."""

from datetime import datetime
from decimal import Decimal

from django.db import connection


def _aggregates(condition: str) -> str:
    """The five candidate quantities of a meter's group, over the rows matching `condition`."""
    where = f"FILTER (WHERE {condition})"
    return f"""
        count(*) {where}, sum(e.quantity) {where}, max(e.quantity) {where},
        (array_agg(e.quantity ORDER BY e.timestamp DESC, e.id DESC) {where})[1],
        count(DISTINCT CASE WHEN m.unique_property = '' THEN e.task_id
                            ELSE e.properties ->> m.unique_property END) {where}"""


def _quantity(aggregation: str, count: int, total: Decimal | None, maximum: Decimal | None,
              latest: Decimal | None, unique: int) -> Decimal:
    picked = {"sum": total, "count": count, "max": maximum, "latest": latest, "unique_count": unique}[aggregation]
    return Decimal(picked or 0)


def usage_totals(*, customer_id: int, start: datetime, end: datetime, cutoff: datetime) -> dict[int, Decimal]:
    """Each meter's quantity for a customer's events in [start, end) received by `cutoff`."""
    sql = f"""
        SELECT e.meter_id, m.aggregation, {_aggregates("true")}
        FROM metering_usageevent e JOIN metering_meter m ON m.id = e.meter_id
        WHERE e.organization_id = (SELECT organization_id FROM accounts_customer WHERE id = %s)
          AND e.customer_id = %s AND e.timestamp >= %s AND e.timestamp < %s AND e.received_at <= %s
        GROUP BY e.meter_id, m.aggregation, m.unique_property
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [customer_id, customer_id, start, end, cutoff])
        return {row[0]: _quantity(row[1], *row[2:]) for row in cursor.fetchall()}


def usage_so_far(*, organization_id: int, customer_id: int, day_start: datetime, period_start: datetime,
                 period_end: datetime) -> dict[int, tuple[int, Decimal, int, Decimal]]:
    """Per meter with events this period: (events today, quantity today, events, quantity) so far."""
    sql = f"""
        SELECT e.meter_id, m.aggregation, {_aggregates("e.timestamp >= %(day_start)s")}, {_aggregates("true")}
        FROM metering_usageevent e JOIN metering_meter m ON m.id = e.meter_id
        WHERE e.customer_id = %(customer_id)s AND e.organization_id = %(organization_id)s
          AND e.timestamp >= %(period_start)s AND e.timestamp < %(period_end)s
        GROUP BY e.meter_id, m.aggregation, m.unique_property
    """
    params: dict[str, datetime | int] = {
        "day_start": day_start, "customer_id": customer_id, "organization_id": organization_id,
        "period_start": period_start, "period_end": period_end,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {
            row[0]: (row[2], _quantity(row[1], *row[2:7]), row[7], _quantity(row[1], *row[7:12]))
            for row in cursor.fetchall()
        }
