"""Invoice list and invoice page: what each persona sees, filters, pagination, pinned query counts."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import Invoice, InvoiceLine
from tests.factories import CustomerFactory
from tests.portal.conftest import PERIODS, login

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(client) -> None:
    response = client.get(reverse("portal:invoice-list"))
    assert response.status_code == 302
    assert reverse("portal:login") in response["Location"]


def test_finance_user_lists_only_its_customers_invoices(billed, finance_user) -> None:
    response = login(finance_user).get(reverse("portal:invoice-list"))

    assert response.status_code == 200
    shown = {invoice.pk for invoice in response.context["page"]}
    assert shown == {billed.invoice("acme", period).pk for period in PERIODS}
    assert b"Globex" not in response.content


def test_vendor_lists_every_customer_and_filters(billed, vendor) -> None:
    client = login(vendor.admin)

    everything = client.get(reverse("portal:invoice-list"))
    by_customer = client.get(reverse("portal:invoice-list"), {"customer": "globex"})
    by_period = client.get(reverse("portal:invoice-list"), {"period": "2026-09"})
    by_status = client.get(reverse("portal:invoice-list"), {"status": "paid"})

    assert len(everything.context["page"]) == 6
    assert {i.customer.external_id for i in by_customer.context["page"]} == {"globex"}
    assert {i.period for i in by_period.context["page"]} == {"2026-09"}
    assert list(by_status.context["page"]) == []
    assert b"No invoice matches these filters" in by_status.content


def test_a_bad_filter_is_named_not_a_server_error(billed, vendor) -> None:
    response = login(vendor.admin).get(
        reverse("portal:invoice-list"), {"period": "2026-13", "status": "nope"}
    )

    assert response.status_code == 200
    assert "period" in response.context["form"].errors
    assert "status" in response.context["form"].errors


def test_vendor_filter_cannot_name_another_organizations_customer(billed, vendor, stranger) -> None:
    foreign = CustomerFactory.create(organization=stranger.organization, external_id="initech")
    response = login(vendor.admin).get(reverse("portal:invoice-list"), {"customer": foreign.external_id})

    assert "customer" in response.context["form"].errors
    assert len(response.context["page"]) == 6  # the invalid filter is ignored, not applied to another tenant


def test_invoice_page_lists_lines_with_links_to_their_tasks(billed, finance_user) -> None:
    invoice = billed.invoice("acme", "2026-10")
    response = login(finance_user).get(reverse("portal:invoice-detail", args=[invoice.pk]))

    assert response.status_code == 200
    lines = list(response.context["page"])
    assert len(lines) == invoice.lines.count() > 0
    for line in lines:
        assert reverse("portal:task-detail", args=[invoice.pk, line.task_id]).encode() in response.content
    assert f"{invoice.total:,.2f} USD".encode() in response.content


def test_customer_never_sees_cost_to_serve_on_an_invoice(billed, finance_user, vendor) -> None:
    invoice = billed.invoice("acme", "2026-10")
    as_customer = login(finance_user).get(reverse("portal:invoice-detail", args=[invoice.pk]))
    as_vendor = login(vendor.admin).get(reverse("portal:invoice-detail", args=[invoice.pk]))

    assert b"Cost to serve" not in as_customer.content
    assert b"Margin" not in as_customer.content
    assert b"Cost to serve" in as_vendor.content
    assert as_vendor.context["figures"]["cost_to_serve"] > 0
    assert not {"cost_to_serve", "margin", "unbilled_cost"} & set(as_customer.context["figures"])


@pytest.mark.parametrize("persona", ["other_customer", "stranger"])
def test_an_invoice_outside_the_scope_is_not_found(billed, persona, globex_finance, stranger) -> None:
    user = globex_finance if persona == "other_customer" else stranger.admin
    invoice = billed.invoice("acme", "2026-10")

    response = login(user).get(reverse("portal:invoice-detail", args=[invoice.pk]))

    assert response.status_code == 404
    assert b"not yours to see" in response.content
    assert b"Acme" not in response.content


def test_stranger_sees_an_empty_invoice_list(billed, stranger) -> None:
    response = login(stranger.admin).get(reverse("portal:invoice-list"))
    assert list(response.context["page"]) == []


def _invoices(vendor, count: int) -> None:
    for n in range(count):
        customer = CustomerFactory.create(organization=vendor.organization)
        Invoice.objects.create(
            organization=vendor.organization,
            customer=customer,
            period_start=date(2026, 10, 1),
            period_end=date(2026, 11, 1),
            currency="USD",
            total=Decimal(n),
            cutoff="2026-11-01T00:00:00Z",
        )


def test_invoice_list_query_count_does_not_grow_with_invoices(vendor, django_assert_num_queries) -> None:
    client = login(vendor.admin)
    _invoices(vendor, 3)
    # session, user, organization, customers for the filter, count, page, periods
    with django_assert_num_queries(7):
        client.get(reverse("portal:invoice-list"))
    _invoices(vendor, 40)
    with django_assert_num_queries(7):
        response = client.get(reverse("portal:invoice-list"))
    assert len(response.context["page"]) == 43


def test_invoice_list_is_paginated(vendor) -> None:
    _invoices(vendor, 55)
    client = login(vendor.admin)

    first = client.get(reverse("portal:invoice-list"))
    second = client.get(reverse("portal:invoice-list"), {"page": 2})
    beyond = client.get(reverse("portal:invoice-list"), {"page": "zzz"})

    assert len(first.context["page"]) == 50
    assert len(second.context["page"]) == 5
    assert b"Page 1 of 2" in first.content
    assert beyond.status_code == 200


def _lines(invoice: Invoice, count: int) -> None:
    start = invoice.lines.count()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            organization_id=invoice.organization_id,
            invoice=invoice,
            position=start + n + 1,
            task_id=f"bulk-{n}",
            service_period_start=invoice.period_start,
            description=f"bulk {n}",
            quantity=1,
            unit_price=Decimal("1"),
            amount=Decimal("1"),
            cost=Decimal("0.01"),
            cost_currency="USD",
        )
        for n in range(count)
    )


@pytest.mark.parametrize("persona", ["finance", "vendor"])
def test_invoice_page_query_count_does_not_grow_with_lines(
    billed, finance_user, persona, django_assert_num_queries
) -> None:
    invoice = billed.invoice("acme", "2026-10")
    client = login(finance_user if persona == "finance" else billed.vendor.admin)
    # session, user, organization, (customer), invoice, line count, lines, credit notes; the period's
    # figures (report, charges, credit notes, outcomes by type, billed tasks' cost); the lines' evidence;
    # the document (billing profile, summary, taxes); the vendor's Stripe panel (push, connection)
    expected = 17 if persona == "finance" else 18
    with django_assert_num_queries(expected):
        client.get(reverse("portal:invoice-detail", args=[invoice.pk]))
    _lines(invoice, 60)
    with django_assert_num_queries(expected):
        response = client.get(reverse("portal:invoice-detail", args=[invoice.pk]))
    assert len(response.context["page"]) > 60
