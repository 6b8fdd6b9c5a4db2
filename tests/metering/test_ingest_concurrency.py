"""Concurrent replays against the real database: each event is stored once, whatever the interleaving."""

import threading
from collections.abc import Callable

import psycopg
import pytest
from django.db import connection, connections

from metering.models import UsageEvent
from outcomes.models import OutcomeEvent
from tests.conftest import ApiClient
from tests.factories import MeterFactory, OutcomeTypeFactory
from tests.metering.test_ingest_usage import usage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _empty_event_tables() -> object:
    """The usage tables are plain SQL, outside the models a transactional test's flush empties."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE metering_usageevent, metering_usagekey")


def at_once(count: int, post: Callable[[int], dict[str, object]]) -> list[dict[str, object]]:
    """Run `post(n)` in `count` threads released together; each thread has its own database connection."""
    barrier = threading.Barrier(count)
    answers: list[dict[str, object]] = [{} for _ in range(count)]
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            answers[n] = post(n)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return answers


def post_json(raw_key: str, url: str, body: dict[str, object]) -> dict[str, object]:
    response = ApiClient(raw_key).post(url, body)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_same_batch_posted_from_four_connections_at_once_is_stored_once(vendor) -> None:
    MeterFactory(organization=vendor.organization)
    batch = {"events": [usage(f"k{i}", quantity=str(i)) for i in range(300)]}

    answers = at_once(4, lambda n: post_json(vendor.api.raw_key, "/api/v1/usage-events", batch))

    assert sum(answer["accepted"] for answer in answers) == 300
    assert sum(answer["duplicates"] for answer in answers) == 900
    assert UsageEvent.objects.filter(organization=vendor.organization).count() == 300
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_usagekey")
        assert cursor.fetchone()[0] == 300


def test_overlapping_batches_in_opposite_orders_neither_deadlock_nor_double(vendor) -> None:
    MeterFactory(organization=vendor.organization)
    keys = [f"k{i:04d}" for i in range(400)]
    forward = {"events": [usage(key) for key in keys[:300]]}
    backward = {"events": [usage(key) for key in reversed(keys[100:])]}

    answers = at_once(
        2, lambda n: post_json(vendor.api.raw_key, "/api/v1/usage-events", forward if n == 0 else backward)
    )

    assert sum(answer["accepted"] for answer in answers) == 400
    assert sum(answer["duplicates"] for answer in answers) == 200
    assert UsageEvent.objects.filter(organization=vendor.organization).count() == 400


def test_the_same_outcome_batch_posted_at_once_is_stored_once(vendor) -> None:
    OutcomeTypeFactory(organization=vendor.organization)
    batch = {"events": [
        {"idempotency_key": f"o{i}", "customer": "acme", "outcome": "ticket_resolved", "task_id": f"t{i}",
         "timestamp": "2026-10-05T10:00:00Z"}
        for i in range(200)
    ]}

    answers = at_once(4, lambda n: post_json(vendor.api.raw_key, "/api/v1/outcome-events", batch))

    assert sum(answer["accepted"] for answer in answers) == 200
    assert sum(answer["duplicates"] for answer in answers) == 600
    assert OutcomeEvent.objects.filter(organization=vendor.organization).count() == 200


def test_a_batch_whose_names_are_all_cached_opens_its_own_connection(vendor) -> None:
    MeterFactory(organization=vendor.organization)
    assert post_json(vendor.api.raw_key, "/api/v1/usage-events", {"events": [usage("warm")]})["accepted"] == 1
    connection.close()  # as CONN_MAX_AGE does between requests; the key, customer and meter stay cached
    body = {"events": [usage("cold1"), usage("warm")]}
    assert post_json(vendor.api.raw_key, "/api/v1/usage-events", body) == {"accepted": 1, "duplicates": 1,
                                                                             "rejected": []}
    assert UsageEvent.objects.count() == 2


@pytest.mark.parametrize(("other_commits", "accepted"), [(True, 1), (False, 2)])
def test_a_key_another_batch_is_still_writing_is_decided_by_that_batch(vendor, other_commits, accepted) -> None:
    """b-contested is uncommitted in another transaction when this batch, sent down the slow path by its
    known a-known, tries it: the key index makes it wait, then either count it as a duplicate (the
    other committed; the insert is retried without it) or store it (the other rolled back)."""
    meter = MeterFactory(organization=vendor.organization)
    assert post_json(vendor.api.raw_key, "/api/v1/usage-events", {"events": [usage("a-known")]})["accepted"] == 1
    other = psycopg.connect(**connection.get_connection_params())
    other.execute(
        "INSERT INTO metering_usageevent (organization_id, customer_id, meter_id, quantity, timestamp, "
        "idempotency_key) VALUES (%s, %s, %s, 1, '2026-10-05T10:00:00Z', 'b-contested')",
        [vendor.organization.pk, vendor.customer.pk, meter.pk],
    )
    batch = {"events": [usage("a-known"), usage("b-contested"), usage("c-fresh")]}
    answers: list[dict[str, object]] = []

    def post() -> None:
        try:
            answers.append(post_json(vendor.api.raw_key, "/api/v1/usage-events", batch))
        finally:
            connections.close_all()

    poster = threading.Thread(target=post)
    poster.start()
    poster.join(timeout=1.0)
    assert poster.is_alive()  # waiting on the other transaction's key
    if other_commits:
        other.commit()
    else:
        other.rollback()
    poster.join(timeout=30)
    other.close()

    assert answers == [{"accepted": accepted, "duplicates": 3 - accepted, "rejected": []}]
    keys = list(UsageEvent.objects.order_by("idempotency_key").values_list("idempotency_key", flat=True))
    assert keys == ["a-known", "b-contested", "c-fresh"]
