"""The vendor's customer list: one row per customer with the period's total, value, cost and margin."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import Invoice, RoiReport
from tests.factories import CustomerFactory
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db


def test_customer_list_shows_each_customers_figures_for_the_latest_period(billed, vendor) -> None:
    response = login(vendor.admin).get(reverse("portal:customer-list"))

    assert response.context["period"].label == "2026-10"
    rows = {customer.external_id: customer for customer in response.context["page"]}
    assert set(rows) == {"acme", "globex"}
    acme = rows["acme"]
    invoice = billed.invoice("acme", "2026-10")
    report = RoiReport.objects.get(customer=billed.acme, period_start=date(2026, 10, 1))
    assert acme.invoice_id == invoice.pk and acme.invoice_total == invoice.total
    figures = acme.figures
    assert figures["value_delivered"] == report.value_delivered
    # the margin comes from the billed figure the row shows, and the cost's two parts add up
    assert figures["billed"] == invoice.total  # no late lines, credits or prepaid in this period
    assert figures["margin"] == figures["billed"] - figures["cost_to_serve"]
    assert figures["cost_of_billed_tasks"] + figures["unbilled_cost"] == figures["cost_to_serve"]
    # globex burns more tokens than it pays for: a negative margin, shown in red
    assert rows["globex"].figures["margin"] < 0
    assert b'class="num bad"' in response.content


def test_customer_list_for_another_period(billed, vendor) -> None:
    response = login(vendor.admin).get(reverse("portal:customer-list"), {"period": "2026-08"})
    acme = next(c for c in response.context["page"] if c.external_id == "acme")
    assert acme.invoice_id == billed.invoice("acme", "2026-08").pk


def test_stranger_sees_only_its_own_customers(billed, stranger) -> None:
    response = login(stranger.admin).get(reverse("portal:customer-list"))
    rows = list(response.context["page"])
    assert [c.organization_id for c in rows] == [stranger.organization.pk]
    assert rows[0].invoice_id is None and rows[0].figures is None


def _customers_with_figures(vendor, count: int) -> None:
    for _ in range(count):
        customer = CustomerFactory.create(organization=vendor.organization)
        Invoice.objects.create(
            organization=vendor.organization,
            customer=customer,
            period_start=date(2026, 10, 1),
            period_end=date(2026, 11, 1),
            currency="USD",
            total=Decimal("10"),
            cutoff="2026-11-01T00:00:00Z",
        )
        RoiReport.objects.create(
            organization=vendor.organization,
            customer=customer,
            period_start=date(2026, 10, 1),
            currency="USD",
            outcomes={"ticket_resolved": 10},
            value_delivered=Decimal("65"),
            billed=Decimal("10"),
            cost_to_serve=Decimal("2.5"),
            cost_currency="USD",
            unbilled_cost=0,
            computed_at="2026-11-01T00:00:00Z",
        )


def test_customer_list_query_count_does_not_grow_with_customers(vendor, django_assert_num_queries) -> None:
    client = login(vendor.admin)
    _customers_with_figures(vendor, 2)
    # session, user, organization, periods, count, page; the page's figures: reports, charges, credit
    # notes, outcomes by type, billed tasks' cost (one query each for the whole page)
    with django_assert_num_queries(11):
        client.get(reverse("portal:customer-list"))
    _customers_with_figures(vendor, 30)
    with django_assert_num_queries(11):
        response = client.get(reverse("portal:customer-list"))
    assert len(response.context["page"]) == 33
