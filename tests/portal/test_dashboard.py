"""The vendor's dashboard: every figure agrees with the page, export or API answer that defines it."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.models import BillingRun, Invoice
from billing.selectors.aging import aging_report
from billing.selectors.invoices import invoice_due_list
from core.money import round_money
from tests.portal.conftest import Billed, login

pytestmark = pytest.mark.django_db


def _figure(html: str, name: str, occurrence: int = 0) -> str:
    return re.findall(rf'data-figure="{name}">([^<]+)<', html)[occurrence].strip()


def _money(amount: Decimal) -> str:
    return f"{round_money(amount, 'USD'):,} USD"


def test_the_vendor_lands_on_the_dashboard(vendor) -> None:
    response = login(vendor.admin).get("/")
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    page = login(vendor.admin).get(reverse("portal:dashboard")).content.decode()
    assert ">Dashboard</a>" in page and "month to date" in page


def test_billed_cost_and_margin_agree_with_the_roi_api_and_the_customers_list(receivables: Billed) -> None:
    vendor = receivables.vendor
    html = login(vendor.admin).get(reverse("portal:dashboard"), {"period": "2026-09"}).content.decode()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {vendor.api.raw_key}")
    figures = [api.get(f"/api/v1/customers/{c}/roi", {"period": "2026-09"}).json() for c in ("acme", "globex")]
    billed = sum((Decimal(f["billed"]) for f in figures), Decimal(0))
    cost = sum((Decimal(f["cost_to_serve"]) for f in figures), Decimal(0))
    margin = sum((Decimal(f["margin"]) for f in figures), Decimal(0))
    assert _figure(html, "billed") == _money(billed)
    assert _figure(html, "cost_to_serve") == _money(cost)
    assert _figure(html, "margin") == _money(margin)
    assert int(_figure(html, "outcomes")) == sum(sum(f["outcomes"].values()) for f in figures)
    # The customers list shows the same billed figure per customer.
    listed = login(vendor.admin).get(reverse("portal:customer-list"), {"period": "2026-09"})
    assert sum(c.figures["billed"] for c in listed.context["page"].object_list) == billed


def test_collected_outstanding_and_overdue_agree_with_the_invoices_and_the_aging(receivables: Billed) -> None:
    vendor = receivables.vendor
    client = login(vendor.admin)
    html = client.get(reverse("portal:dashboard"), {"period": "2026-09"}).content.decode()
    september = list(Invoice.objects.filter(organization=vendor.organization, period_start="2026-09-01"))
    today = timezone.now().date()
    assert _figure(html, "collected") == _money(sum((i.amount_paid for i in september), Decimal(0)))
    assert _figure(html, "outstanding") == _money(sum((i.amount_due for i in september), Decimal(0)))
    overdue = [i for i in september if i.is_overdue(today)]
    assert len(overdue) == 2  # Globex paid only part
    assert _figure(html, "overdue") == _money(sum((i.amount_due for i in overdue), Decimal(0)))
    # The invoice list's overdue filter for the period lists exactly those.
    listed = client.get(reverse("portal:invoice-list"), {"period": "2026-09", "overdue": "on"})
    assert {i.pk for i in listed.context["page"].object_list} == {i.pk for i in overdue}

    # Receivables today: the aging page's totals.
    aging = aging_report(organization=vendor.organization, today=today)
    assert _figure(html, "receivable-outstanding") == _money(aging.total_of("USD"))
    assert _figure(html, "receivable-overdue") == _money(aging.overdue_of("USD"))
    aging_html = client.get(reverse("portal:aging")).content.decode()
    assert _figure(aging_html, "aging-total") == _figure(html, "receivable-outstanding")
    assert _figure(aging_html, "aging-overdue") == _figure(html, "receivable-overdue")


def test_disputes_drafts_due_and_runs_in_trouble_are_listed(receivables: Billed) -> None:
    from outcomes.services import outcome_event_dispute

    vendor = receivables.vendor
    outcome_event_dispute(organization=vendor.organization, idempotency_key="o-ticket-2026-10-1",
                          reason="dashboard-dispute: not resolved by the agent")
    failed = BillingRun.objects.create(organization=vendor.organization, period_start="2026-10-01",
                                       status=BillingRun.Status.FAILED, error="acme: dashboard-run-error")
    html = login(vendor.admin).get(reverse("portal:dashboard")).content.decode()
    disputes = html.split('id="disputes"', 1)[1].split('class="panel"', 1)[0]
    assert "dashboard-dispute" in disputes and '<span class="badge open">1</span>' in disputes
    due = invoice_due_list(organization=vendor.organization, now=timezone.now())
    drafts = html.split('id="drafts-due"', 1)[1].split("</div>\n</div>", 1)[0]
    assert f'<span class="badge open">{due.count()}</span>' in drafts and due.count() == 2  # the October drafts
    runs = html.split('id="runs"', 1)[1]
    assert f"#{failed.pk}" in runs and "dashboard-run-error" in runs


def test_the_dashboard_is_the_vendors_own(receivables: Billed, stranger, finance_user) -> None:
    stranger_page = login(stranger.admin).get(reverse("portal:dashboard"), {"period": "2026-09"})
    assert stranger_page.status_code == 200
    assert "Globex" not in stranger_page.content.decode() and stranger_page.context["sections"] == []
    assert login(finance_user).get(reverse("portal:dashboard")).status_code == 403
    assert Client().get(reverse("portal:dashboard")).status_code == 302


def test_a_bad_period_is_named(vendor) -> None:
    response = login(vendor.admin).get(reverse("portal:dashboard"), {"period": "2026-13"})
    assert response.status_code == 200 and "period: " in response.content.decode()


def test_the_dashboard_query_count_does_not_grow_with_customers(
    receivables: Billed, django_assert_max_num_queries
) -> None:
    client = login(receivables.vendor.admin)
    # session, user, organization; ROI reports and their figures (4); invoice sums; aging; disputes
    # (count, list); drafts due (count, list); runs; outcome type names
    with django_assert_max_num_queries(18):
        client.get(reverse("portal:dashboard"), {"period": "2026-09"})
