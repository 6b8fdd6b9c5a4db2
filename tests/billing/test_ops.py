"""Ops surfaces: the Django admin opens on every model, the billing command and the beat jobs work."""

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from billing.models import Invoice
from config.celery import app as celery_app
from outcomes.models import OutcomeEvent
from outcomes.services import outcomes_verify_due
from tests.billing.scenario import outcomes, post_outcomes
from tests.factories import OutcomeTypeFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_admin_page_opens(client, vendor) -> None:
    ops = UserFactory.create(username="ops", is_staff=True, is_superuser=True, organization=None)
    client.force_login(ops)
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url
        add = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
        assert client.get(add).status_code in {200, 403}, add


def test_run_billing_command_and_finalize_due(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("3.00"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, 2))
    out = io.StringIO()
    call_command("run_billing", "--period", "2026-10", "--organization", vendor.organization.slug, stdout=out)
    assert "done, 1/1" in out.getvalue()
    assert Invoice.objects.get(customer=vendor.customer).total == Decimal("6.00")
    call_command("run_billing", "--finalize-due", stdout=io.StringIO())
    assert Invoice.objects.get(customer=vendor.customer).number == "INV-000001"


def test_verification_job_moves_due_outcomes_only(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_window_hours=72)
    post_outcomes(vendor.organization, outcomes(vendor.customer, 3, day=5))
    assert outcomes_verify_due(now=datetime(2026, 10, 7, 23, tzinfo=UTC)) == 0
    assert outcomes_verify_due(now=datetime(2026, 10, 8, 1, 30, tzinfo=UTC)) == 2  # hours 0 and 1 of day 5 + 72h
    assert outcomes_verify_due(now=datetime(2026, 10, 8, 1, 30, tzinfo=UTC)) == 0
    assert sorted(OutcomeEvent.objects.values_list("status", flat=True)) == ["pending", "verified", "verified"]


def test_every_scheduled_job_is_a_registered_task() -> None:
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks.py
    registered = set(celery_app.tasks)
    for name, entry in celery_app.conf.beat_schedule.items():
        assert entry["task"] in registered, name


def test_a_redelivered_or_repeated_run_does_not_count_twice(vendor) -> None:
    from billing.models import BillingRun
    from billing.services.runs import billing_run_execute, billing_run_start
    from core.periods import period_parse

    OutcomeTypeFactory.create(organization=vendor.organization)
    run = BillingRun.objects.create(organization=vendor.organization, period_start=period_parse("2026-10").start)
    assert billing_run_execute(run_id=run.pk).customers_done == 1
    assert billing_run_start(run_id=run.pk) == []
    assert billing_run_execute(run_id=run.pk).customers_done == 1

    from billing.services.runs import billing_run_chunk  # a chunk delivered again after it was counted

    assert billing_run_chunk(chunk_id=run.chunks.get().pk) is False
    run.refresh_from_db()
    assert (run.customers_done, run.customers_total, run.status) == (1, 1, BillingRun.Status.DONE)
