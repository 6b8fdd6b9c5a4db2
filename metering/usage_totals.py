"""Period quantity per meter for one customer, for usage overage pricing (read by billing)."""

from datetime import datetime
from decimal import Decimal

from django.db import connection


def usage_totals(*, customer_id: int, start: datetime, end: datetime, cutoff: datetime) -> dict[int, Decimal]:
    """Each meter's period quantity for a customer, aggregated the meter's way (for usage overage)."""
    sql = """
        SELECT e.meter_id, m.aggregation, m.unique_property,
               sum(e.quantity), count(*), max(e.quantity),
               (array_agg(e.quantity ORDER BY e.timestamp DESC, e.id DESC))[1],
               count(DISTINCT CASE WHEN m.unique_property = '' THEN e.task_id
                                   ELSE e.properties ->> m.unique_property END)
        FROM metering_usageevent e JOIN metering_meter m ON m.id = e.meter_id
        WHERE e.customer_id = %s AND e.timestamp >= %s AND e.timestamp < %s AND e.received_at <= %s
        GROUP BY e.meter_id, m.aggregation, m.unique_property
    """
    pick = {"sum": 3, "count": 4, "max": 5, "latest": 6, "unique_count": 7}
    with connection.cursor() as cursor:
        cursor.execute(sql, [customer_id, start, end, cutoff])
        return {row[0]: Decimal(row[pick[row[1]]]) for row in cursor.fetchall()}
