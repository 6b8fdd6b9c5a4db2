"""Monthly partitions of the usage-event table.

Partitions are created ahead of time by a daily job; an event for a month with no partition lands
in the default partition (never lost), and the job moves such rows into their month's partition
when it creates it.
"""

import gzip
from datetime import date
from pathlib import Path

from django.db import connection, transaction

from core.periods import Period

PARENT = "metering_usageevent"


def partition_name(month: date) -> str:
    return f"{PARENT}_y{month.year}m{month.month:02d}"


def partition_ensure(*, month: date) -> bool:
    """Create the partition for `month` if missing, moving any rows parked in the default. True if created."""
    period = Period.of(month)
    name = partition_name(period.start)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [name])
        if cursor.fetchone()[0] is not None:
            return False
        # Serialise against a concurrent creator and against inserts into the default partition.
        cursor.execute(f"LOCK TABLE {PARENT}_default IN EXCLUSIVE MODE")
        cursor.execute("SELECT to_regclass(%s)", [name])
        if cursor.fetchone()[0] is not None:
            return False
        cursor.execute(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        bounds = [period.start.isoformat(), period.end.isoformat()]
        cursor.execute(
            f"WITH moved AS (DELETE FROM {PARENT}_default WHERE timestamp >= %s AND timestamp < %s RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved",
            bounds,
        )
        cursor.execute(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", bounds
        )
    return True


def partitions_ensure(*, today: date, months_back: int = 0, months_ahead: int = 3) -> list[str]:
    created = []
    for offset in range(-months_back, months_ahead + 1):
        month = Period.of(today).add(offset).start
        if partition_ensure(month=month):
            created.append(partition_name(month))
    return created


# Archiving: a month's events leave the database, organization by organization, once billing says their
# invoices are final and their retention has passed (billing/services/archive.py decides; this moves rows).


def usage_partition_months() -> list[date]:
    """The months with an attached partition, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass AND c.relname ~ '_y[0-9]{4}m[0-9]{2}$' ORDER BY 1",
            [PARENT],
        )
        names = [row[0] for row in cursor.fetchall()]
    return [date(int(name[-7:-3]), int(name[-2:]), 1) for name in names]


def usage_partition_organizations(*, month: date) -> dict[int, list[int]]:
    """The organizations with events in the month's partition, each with its customers."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT organization_id, array_agg(DISTINCT customer_id ORDER BY customer_id) "
            f"FROM {partition_name(month)} GROUP BY 1 ORDER BY 1"
        )
        return {organization_id: list(customers) for organization_id, customers in cursor.fetchall()}


def usage_retention_months(*, organization_id: int, default: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT months FROM metering_usageretention WHERE organization_id = %s", [organization_id])
        row = cursor.fetchone()
    return int(row[0]) if row else default


def usage_retention_set(*, organization_id: int, months: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_usageretention (organization_id, months) VALUES (%s, %s) "
            "ON CONFLICT (organization_id) DO UPDATE SET months = EXCLUDED.months", [organization_id, months],
        )


def usage_partition_export(*, month: date, organization_id: int, path: Path) -> int:
    """Write the organization's events of the month to `path` (CSV with a header, gzip), then delete them
    from the table, in one transaction: rows leave only once the file is complete. Returns the rows."""
    name = partition_name(month)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    rows = 0
    with transaction.atomic(), connection.cursor() as cursor:
        copy_sql = (f"COPY (SELECT * FROM {name} WHERE organization_id = {int(organization_id)} ORDER BY id) "
                    "TO STDOUT WITH (FORMAT csv, HEADER)")
        with gzip.open(partial, "wb") as out, cursor.cursor.copy(copy_sql) as copy:
            for chunk in copy:
                out.write(chunk)
        cursor.execute(f"DELETE FROM {name} WHERE organization_id = %s", [organization_id])
        rows = cursor.rowcount
        partial.replace(path)
    return rows


def usage_partition_drop_if_empty(*, month: date) -> bool:
    """Detach and drop the month's partition once no organization has events left in it."""
    name = partition_name(month)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(f"SELECT EXISTS (SELECT FROM {name})")
        if cursor.fetchone()[0]:
            return False
        cursor.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {name}")
        cursor.execute(f"DROP TABLE {name}")
    return True
