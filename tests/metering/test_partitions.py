from datetime import UTC, date, datetime

from django.db import connection
from django.utils import timezone

from core.periods import Period
from metering.partitions import partition_ensure, partition_name, partitions_ensure
from metering.tasks import partitions_ensure_task
from tests.factories import MeterFactory
from tests.metering.test_ingest_usage import URL, usage


def partition_of(key: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM metering_usageevent WHERE idempotency_key = %s", [key])
        return cursor.fetchone()[0]


def test_partitions_exist_for_the_coming_months(db) -> None:
    this_month = Period.of(timezone.now())
    partitions_ensure_task()
    with connection.cursor() as cursor:
        for offset in range(4):
            cursor.execute("SELECT to_regclass(%s)", [partition_name(this_month.add(offset).start)])
            assert cursor.fetchone()[0] is not None
    assert partitions_ensure(today=timezone.now().date()) == []  # a second run is a no-op


def test_creating_a_partition_later_moves_parked_events_and_dedup_still_holds(vendor) -> None:
    MeterFactory.create(organization=vendor.organization)
    old = usage("old", timestamp="1999-02-03T04:05:06Z")
    assert vendor.api.post(URL, {"events": [old]}).json()["accepted"] == 1
    assert partition_of("old") == "metering_usageevent_default"

    assert partition_ensure(month=date(1999, 2, 1)) is True

    assert partition_of("old") == partition_name(date(1999, 2, 1))
    replay = vendor.api.post(URL, {"events": [old, usage("old", timestamp="1999-03-01T00:00:00Z")]}).json()
    assert replay == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert vendor.api.post(URL, {"events": [usage("new", timestamp="1999-02-28T23:59:59Z")]}).json()["accepted"] == 1
    assert partition_of("new") == partition_name(date(1999, 2, 1))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_usageevent_default")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT timestamp FROM metering_usageevent WHERE idempotency_key = 'old'")
        assert cursor.fetchone()[0] == datetime(1999, 2, 3, 4, 5, 6, tzinfo=UTC)
