"""Billing runs in the vendor console: list, progress page that refreshes itself, JSON progress."""

from datetime import date

import pytest
from django.urls import reverse

from billing.models import BillingRun, Invoice
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(vendor) -> BillingRun:
    return BillingRun.objects.create(
        organization=vendor.organization,
        period_start=date(2026, 10, 1),
        status=BillingRun.Status.RUNNING,
        customers_total=40,
        customers_done=10,
    )


def test_a_running_run_shows_progress_and_refreshes_itself(vendor, running) -> None:
    response = login(vendor.admin).get(reverse("portal:run-detail", args=[running.pk]))

    content = response.content.decode()
    assert "10 / 40" in content
    assert 'style="width:25%"' in content
    assert 'http-equiv="refresh"' in content  # without JavaScript
    assert reverse("portal:run-progress", args=[running.pk]) in content  # with it


def test_a_finished_run_does_not_refresh(vendor, running) -> None:
    BillingRun.objects.filter(pk=running.pk).update(status=BillingRun.Status.DONE, customers_done=40)
    response = login(vendor.admin).get(reverse("portal:run-detail", args=[running.pk]))
    assert b'http-equiv="refresh"' not in response.content
    assert b"40 / 40" in response.content


def test_progress_json(vendor, running) -> None:
    body = login(vendor.admin).get(reverse("portal:run-progress", args=[running.pk])).json()
    assert body == {
        "id": running.pk,
        "status": "running",
        "period": "2026-10",
        "customers_done": 10,
        "customers_total": 40,
        "percent": 25,
        "active": True,
        "error": "",
        "finished_at": None,
    }


def test_another_organizations_run_is_not_found(stranger, running) -> None:
    client = login(stranger.admin)
    assert client.get(reverse("portal:run-detail", args=[running.pk])).status_code == 404
    assert client.get(reverse("portal:run-progress", args=[running.pk])).status_code == 404
    assert list(client.get(reverse("portal:run-list")).context["page"]) == []


def test_admin_starts_a_run_and_lands_on_its_page(vendor, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = login(vendor.admin).post(reverse("portal:run-start"), {"period": "2026-10"})

    run = BillingRun.objects.get(organization=vendor.organization)
    assert response["Location"] == reverse("portal:run-detail", args=[run.pk])
    run.refresh_from_db()
    assert run.status == BillingRun.Status.DONE
    assert Invoice.objects.filter(customer=vendor.customer, period_start=date(2026, 10, 1)).exists()


def test_a_member_may_watch_runs_but_not_start_one(vendor, vendor_member, running) -> None:
    client = login(vendor_member)
    assert client.get(reverse("portal:run-list")).status_code == 200
    assert client.post(reverse("portal:run-start"), {"period": "2026-10"}).status_code == 403
    assert BillingRun.objects.count() == 1


def test_run_list_query_count_does_not_grow(vendor, running, django_assert_num_queries) -> None:
    client = login(vendor.admin)
    # session, user, organization, count, page (customer joined), the customers to scope a run to
    with django_assert_num_queries(6):
        client.get(reverse("portal:run-list"))
    for _ in range(20):
        BillingRun.objects.create(
            organization=vendor.organization, period_start=date(2026, 9, 1), customer=vendor.customer
        )
    with django_assert_num_queries(6):
        client.get(reverse("portal:run-list"))


def test_starting_a_run_while_one_of_the_period_is_running_shows_that_run(vendor, running) -> None:
    response = login(vendor.admin).post(reverse("portal:run-start"), {"period": "2026-10"})

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:run-detail", args=[running.pk])
    assert BillingRun.objects.count() == 1


def test_starting_runs_beyond_the_limit_says_when_to_try_again(vendor, settings, django_capture_on_commit_callbacks) -> None:
    settings.BILLING_RUN_STARTS_PER_MINUTE = 1
    client = login(vendor.admin)
    with django_capture_on_commit_callbacks():
        client.post(reverse("portal:run-start"), {"period": "2026-09"})
        response = client.post(reverse("portal:run-start"), {"period": "2026-10"}, follow=True)

    assert b"Billing runs start at most 1 a minute" in response.content
    assert BillingRun.objects.count() == 1
