"""Concurrent replays against the real database: each event is stored once, whatever the interleaving."""

import threading
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
import pytest
from django.db import connection, connections

from metering.models import UsageEvent
from outcomes.models import OutcomeEvent
from tests.conftest import ApiClient
from tests.factories import MeterFactory, OutcomeTypeFactory
from tests.metering.test_ingest_usage import usage
from tests.outcomes.test_ingest_outcomes import outcome

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _empty_event_tables() -> object:
    """The usage tables are plain SQL, outside the models a transactional test's flush empties."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE metering_usageevent, metering_usagekey")


def at_once(count: int, post: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    """Run `post(n)` in `count` threads released together; each thread has its own database connection."""
    barrier = threading.Barrier(count)
    answers: list[dict[str, Any]] = [{} for _ in range(count)]
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


def post_json(raw_key: str, url: str, body: Mapping[str, object]) -> dict[str, Any]:
    response = ApiClient(raw_key).post(url, body)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_same_batch_posted_from_four_connections_at_once_is_stored_once(vendor) -> None:
    MeterFactory.create(organization=vendor.organization)
    batch = {"events": [usage(f"k{i}", quantity=str(i)) for i in range(300)]}

    answers = at_once(4, lambda n: post_json(vendor.api.raw_key, "/api/v1/usage-events", batch))

    assert sum(answer["accepted"] for answer in answers) == 300
    assert sum(answer["duplicates"] for answer in answers) == 900
    assert UsageEvent.objects.filter(organization=vendor.organization).count() == 300
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_usagekey")
        assert cursor.fetchone()[0] == 300


def test_overlapping_batches_in_opposite_orders_neither_deadlock_nor_double(vendor) -> None:
    MeterFactory.create(organization=vendor.organization)
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
    OutcomeTypeFactory.create(organization=vendor.organization)
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
    MeterFactory.create(organization=vendor.organization)
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
    meter = MeterFactory.create(organization=vendor.organization)
    assert post_json(vendor.api.raw_key, "/api/v1/usage-events", {"events": [usage("a-known")]})["accepted"] == 1
    other = psycopg.connect(**connection.get_connection_params())
    other.execute(
        "INSERT INTO metering_usageevent (organization_id, customer_id, meter_id, quantity, timestamp, "
        "idempotency_key) VALUES (%s, %s, %s, 1, '2026-10-05T10:00:00Z', 'b-contested')",
        [vendor.organization.pk, vendor.customer.pk, meter.pk],
    )
    batch = {"events": [usage("a-known"), usage("b-contested"), usage("c-fresh")]}
    answers: list[dict[str, Any]] = []

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


INSERTS = {
    "usage": "INSERT INTO metering_usageevent (organization_id, customer_id, meter_id, quantity, timestamp, "
             "idempotency_key) VALUES (%(organization)s, %(customer)s, %(type)s, 1, '2026-10-05T10:00:00Z', %(key)s)",
    "outcome": "INSERT INTO outcomes_outcomeevent (organization_id, customer_id, outcome_type_id, task_id, timestamp, "
               "properties, idempotency_key, received_at, status, verifiable_at, reversal_reason) VALUES "
               "(%(organization)s, %(customer)s, %(type)s, 't', '2026-10-05T10:00:00Z', '{}', %(key)s, now(), "
               "'pending', '2026-10-07T10:00:00Z', '')",
}


@pytest.mark.parametrize("kind", ["usage", "outcome"])
@pytest.mark.parametrize("known", [None, "0-known"])  # the one COPY, or (a known key first) the insert of new rows
def test_a_batch_sent_out_of_order_takes_its_keys_in_order(vendor, kind, known) -> None:
    """Another transaction holds k2 and then takes k3, in key order: the batch, waiting on k2, must not
    hold k3 already (it would if it followed the order it was sent in), or the two would deadlock."""
    type_id = (MeterFactory.create(organization=vendor.organization).pk if kind == "usage"
               else OutcomeTypeFactory.create(organization=vendor.organization).pk)
    url, event = ("/api/v1/usage-events", usage) if kind == "usage" else ("/api/v1/outcome-events", outcome)
    if known:
        assert post_json(vendor.api.raw_key, url, {"events": [event(known)]})["accepted"] == 1
    other = psycopg.connect(**connection.get_connection_params())
    values = {"organization": vendor.organization.pk, "customer": vendor.customer.pk, "type": type_id}
    other.execute(INSERTS[kind], {**values, "key": "k2"})
    batch = {"events": [event(key) for key in ["k3", "k2", "k1", *([known] if known else [])]]}
    answers: list[dict[str, Any]] = []

    def post() -> None:
        try:
            answers.append(post_json(vendor.api.raw_key, url, batch))
        finally:
            connections.close_all()

    poster = threading.Thread(target=post)
    poster.start()
    poster.join(timeout=1.0)
    assert poster.is_alive()  # waiting on k2
    other.execute(INSERTS[kind], {**values, "key": "k3"})  # would wait on the batch, and PostgreSQL report a deadlock
    other.commit()
    poster.join(timeout=30)
    other.close()

    assert answers == [{"accepted": 1, "duplicates": len(batch["events"]) - 1, "rejected": []}]
