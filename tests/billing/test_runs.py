"""Billing runs have one entry point, billing_run_create: on the workers after the commit, or inline."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError

from billing.models import BillingRun, Invoice
from billing.services.runs import (
    MAX_SENDS,
    billing_refresh_open_drafts,
    billing_run_chunk,
    billing_run_create,
    billing_run_start,
    billing_runs_reap,
)
from config.celery import app as celery_app
from core.periods import period_parse
from tests.billing.scenario import outcomes, post_outcomes
from tests.factories import CustomerFactory, OutcomeTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def october(vendor):
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("2.00"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, 1))
    return vendor


def test_a_run_goes_to_the_workers_only_once_its_row_is_committed(october, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks() as sent:
        run = billing_run_create(organization=october.organization, period=period_parse("2026-10"))
    assert run.status == BillingRun.Status.QUEUED
    assert len(sent) == 1
    assert not Invoice.objects.exists()

    sent[0]()

    run.refresh_from_db()
    assert (run.status, run.customers_done) == (BillingRun.Status.DONE, 1)
    assert Invoice.objects.get(customer=october.customer).total == Decimal("2.00")


def test_an_inline_run_is_finished_when_it_returns(october, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks() as sent:
        run = billing_run_create(organization=october.organization, period=period_parse("2026-10"), inline=True)
    assert sent == []
    assert (run.status, run.customers_done, run.customers_total) == (BillingRun.Status.DONE, 1, 1)


def test_the_hourly_refresh_runs_the_current_period_inline(vendor) -> None:
    assert billing_refresh_open_drafts() >= 1
    assert set(BillingRun.objects.values_list("status", flat=True)) == {BillingRun.Status.DONE}


def test_every_task_retries_a_lost_database_or_broker() -> None:
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks.py
    ours = [task for name, task in celery_app.tasks.items() if name.split(".")[0] in {"billing", "outcomes", "metering"}]
    assert len(ours) >= 7
    for task in ours:
        assert OperationalError in task.autoretry_for, task.name
        assert task.max_retries and task.retry_backoff, task.name


# Runs through the workers: chunks counted once, the same scope joined, starts limited, stalls reaped.

@pytest.fixture
def five_customers(october, settings):
    settings.BILLING_RUN_CHUNK_SIZE = 2  # three chunks: 2, 2 and 1 customers
    for n in range(4):
        customer = CustomerFactory.create(organization=october.organization, external_id=f"c{n}")
        post_outcomes(october.organization, outcomes(customer, 1))
    return october


def _started(vendor, django_capture_on_commit_callbacks) -> tuple[BillingRun, datetime]:
    """A run the workers claimed and wrote the chunks of, with none of them sent yet; and when."""
    with django_capture_on_commit_callbacks():
        run = billing_run_create(organization=vendor.organization, period=period_parse("2026-10"))
    billing_run_start(run_id=run.pk)
    run.refresh_from_db()
    assert run.started_at is not None
    return run, run.started_at


def test_a_chunk_delivered_twice_is_counted_once(five_customers, django_capture_on_commit_callbacks) -> None:
    run, started = _started(five_customers, django_capture_on_commit_callbacks)
    chunks = list(run.chunks.order_by("position"))
    assert [len(chunk.customer_ids) for chunk in chunks] == [2, 2, 1]

    assert billing_run_chunk(chunk_id=chunks[0].pk) is True
    assert billing_run_chunk(chunk_id=chunks[0].pk) is False  # the broker delivered it again
    for chunk in chunks[1:]:
        billing_run_chunk(chunk_id=chunk.pk)
    billing_run_chunk(chunk_id=chunks[2].pk)

    run.refresh_from_db()
    assert (run.status, run.customers_done, run.customers_total) == (BillingRun.Status.DONE, 5, 5)
    assert Invoice.objects.filter(organization=five_customers.organization).count() == 5


def test_a_second_run_of_the_same_scope_joins_the_queued_one(october, django_capture_on_commit_callbacks) -> None:
    period = period_parse("2026-10")
    with django_capture_on_commit_callbacks() as sent:
        first = billing_run_create(organization=october.organization, period=period)
        second = billing_run_create(organization=october.organization, period=period)
    assert second.pk == first.pk
    assert len(sent) == 1

    billing_run_start(run_id=first.pk)  # running: still joined
    assert billing_run_create(organization=october.organization, period=period).pk == first.pk


def test_a_run_of_another_scope_is_not_joined(october, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks():
        whole = billing_run_create(organization=october.organization, period=period_parse("2026-10"))
        one = billing_run_create(organization=october.organization, period=period_parse("2026-10"),
                                 customer=october.customer)
        earlier = billing_run_create(organization=october.organization, period=period_parse("2026-09"))
    assert len({whole.pk, one.pk, earlier.pk}) == 3


def test_a_finished_run_is_not_joined(october, django_capture_on_commit_callbacks) -> None:
    period = period_parse("2026-10")
    with django_capture_on_commit_callbacks(execute=True):
        first = billing_run_create(organization=october.organization, period=period)
    first.refresh_from_db()
    assert first.status == BillingRun.Status.DONE
    assert billing_run_create(organization=october.organization, period=period).pk != first.pk


def test_run_starts_beyond_the_organizations_limit_answer_429_with_retry_after(
    october, stranger, settings, django_capture_on_commit_callbacks
) -> None:
    settings.BILLING_RUN_STARTS_PER_MINUTE = 2
    with django_capture_on_commit_callbacks():
        answers = [october.api.post("/api/v1/billing-runs", {"period": period})
                   for period in ("2026-08", "2026-09", "2026-10")]
        joined = october.api.post("/api/v1/billing-runs", {"period": "2026-09"})
        elsewhere = stranger.api.post("/api/v1/billing-runs", {"period": "2026-10"})

    assert [answer.status_code for answer in answers] == [202, 202, 429]
    assert answers[2].json()["code"] == "rate_limited"
    assert 1 <= int(answers[2]["Retry-After"]) <= 60
    assert joined.status_code == 202 and joined.json()["id"] == answers[1].json()["id"]  # joining starts nothing
    assert elsewhere.status_code == 202  # the limit is the organization's own
    assert BillingRun.objects.filter(organization=october.organization).count() == 2


def test_the_reaper_sends_again_the_chunks_of_a_run_that_stopped_moving(
    five_customers, settings, django_capture_on_commit_callbacks
) -> None:
    settings.BILLING_RUN_STALL_SECONDS = 600
    run, started = _started(five_customers, django_capture_on_commit_callbacks)  # claimed, chunks never sent
    first = run.chunks.get(position=0)
    billing_run_chunk(chunk_id=first.pk)
    later = started + timedelta(seconds=601)

    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert billing_runs_reap(now=later) == 2

    assert len(sent) == 2
    run.refresh_from_db()
    assert (run.status, run.customers_done, run.customers_total) == (BillingRun.Status.DONE, 5, 5)
    assert list(run.chunks.order_by("position").values_list("sends", flat=True)) == [1, 2, 2]


def test_the_reaper_leaves_a_run_that_moves_alone(five_customers, settings, django_capture_on_commit_callbacks) -> None:
    settings.BILLING_RUN_STALL_SECONDS = 600
    run, started = _started(five_customers, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks() as sent:
        assert billing_runs_reap(now=started + timedelta(seconds=599)) == 0
    assert sent == []


def test_a_chunk_sent_too_often_fails_its_run_with_the_reason(
    five_customers, settings, django_capture_on_commit_callbacks
) -> None:
    settings.BILLING_RUN_STALL_SECONDS = 600
    run, started = _started(five_customers, django_capture_on_commit_callbacks)
    run.chunks.update(sends=MAX_SENDS)

    with django_capture_on_commit_callbacks() as sent:
        billing_runs_reap(now=started + timedelta(seconds=601))

    run.refresh_from_db()
    assert sent == []
    assert run.status == BillingRun.Status.FAILED
    assert "stalled" in run.error


def test_the_reaper_sends_again_the_start_of_a_run_left_queued(
    october, settings, django_capture_on_commit_callbacks
) -> None:
    settings.BILLING_RUN_STALL_SECONDS = 600
    with django_capture_on_commit_callbacks():  # the start task is lost: never sent
        run = billing_run_create(organization=october.organization, period=period_parse("2026-10"))

    with django_capture_on_commit_callbacks(execute=True):
        assert billing_runs_reap(now=run.created_at + timedelta(seconds=601)) == 1

    run.refresh_from_db()
    assert (run.status, run.customers_done) == (BillingRun.Status.DONE, 1)


def test_the_reaper_runs_every_minute_from_beat() -> None:
    schedule = {entry["task"]: entry["schedule"] for entry in celery_app.conf.beat_schedule.values()}
    assert schedule["billing.reap_runs"] == 60.0


def test_redis_gives_an_unacknowledged_task_again_well_within_the_hour() -> None:
    assert celery_app.conf.broker_transport_options["visibility_timeout"] <= 600
