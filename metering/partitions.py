"""Monthly partitions of the usage-event table.

Partitions are created ahead of time by a daily job; an event for a month with no partition lands
in the default partition (never lost), and the job moves such rows into their month's partition
when it creates it.
"""

from datetime import date

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
