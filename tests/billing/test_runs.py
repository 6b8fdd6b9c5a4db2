"""Billing runs have one entry point, billing_run_create: on the workers after the commit, or inline."""

from decimal import Decimal

import pytest
from django.db import OperationalError

from billing.models import BillingRun, Invoice
from billing.services.runs import billing_refresh_open_drafts, billing_run_create
from config.celery import app as celery_app
from core.periods import period_parse
from tests.billing.scenario import outcomes, post_outcomes
from tests.factories import OutcomeTypeFactory

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
