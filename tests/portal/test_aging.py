"""Payment status in the invoice lists (both audiences) and the vendor's aging view: one overdue rule."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice
from billing.selectors.aging import BUCKET_KEYS, aging_report, bucket_of, invoice_overdue_q
from tests.portal.conftest import Billed, login

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(-5, "current"), (0, "current"), (1, "d1_30"), (30, "d1_30"), (31, "d31_60"), (60, "d31_60"),
     (61, "d61_90"), (90, "d61_90"), (91, "d90_plus"), (4000, "d90_plus")],
)
def test_buckets_by_days_past_due(days: int, bucket: str) -> None:
    assert bucket_of(days) == bucket


def test_the_overdue_query_and_the_invoices_own_rule_agree(receivables: Billed) -> None:
    invoices = list(Invoice.objects.filter(organization=receivables.vendor.organization))
    today = timezone.now().date()
    for day in [today - timedelta(days=60), today, today + timedelta(days=45), date(2030, 1, 1)]:
        by_query = set(Invoice.objects.filter(invoice_overdue_q(day)).values_list("pk", flat=True))
        by_rule = {invoice.pk for invoice in invoices if invoice.is_overdue(day)}
        assert by_query == by_rule, day
    assert by_rule  # the probe found overdue invoices


def test_aging_buckets_customers_and_totals(receivables: Billed) -> None:
    vendor = receivables.vendor
    today = timezone.now().date()
    aging = aging_report(organization=vendor.organization, today=today)
    rows = {row.customer.external_id: row for row in aging.rows}
    acme_aug = Invoice.objects.get(customer=receivables.acme, period_start="2026-08-01")
    acme_sep = Invoice.objects.get(customer=receivables.acme, period_start="2026-09-01")
    globex_sep = Invoice.objects.get(customer=receivables.globex, period_start="2026-09-01")
    assert rows["acme"].buckets["d31_60"] == acme_aug.total  # due 50 days ago
    assert rows["acme"].buckets["d1_30"] == acme_sep.total  # due 10 days ago
    assert rows["globex"].buckets["d1_30"] == globex_sep.total - Decimal("0.50")  # paid in part
    assert rows["globex"].buckets["d31_60"] == 0  # August paid in full
    assert aging.total_of("USD") == sum((row.total for row in aging.rows), Decimal(0))
    assert list(rows) == ["acme", "globex"]  # most overdue first


def test_the_aging_page_and_its_csv_show_the_same_amounts(receivables: Billed) -> None:
    client = login(receivables.vendor.admin)
    page = client.get(reverse("portal:aging"))
    html = page.content.decode()
    assert "31–60 days" in html and "90+ days" in html
    response = client.get(reverse("portal:aging-csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_customer = {row["customer"]: row for row in rows}
    aging = aging_report(organization=receivables.vendor.organization, today=timezone.now().date())
    for row in aging.rows:
        exported = by_customer[row.customer.external_id]
        assert exported["currency"] == "USD"
        for key in BUCKET_KEYS:
            assert exported[key] == f"{row.buckets[key]:.2f}"  # the currency's minor unit, always
            assert f"{row.buckets[key]:,.2f} USD" in html or row.buckets[key] == 0
    total = next(row for row in rows if row["customer_name"] == "Total")
    assert Decimal(total["total"]) == aging.total_of("USD")


def test_invoice_lists_show_payment_status_for_both_audiences(receivables: Billed, finance_user, globex_finance) -> None:
    vendor_html = login(receivables.vendor.admin).get(reverse("portal:invoice-list")).content.decode()
    assert vendor_html.count('<span class="badge overdue">overdue</span>') == 3  # acme Aug and Sep, globex Sep
    acme = login(finance_user).get(reverse("portal:invoice-list"))
    assert {i.customer.external_id for i in acme.context["page"].object_list} == {"acme"}
    assert acme.content.decode().count('<span class="badge overdue">overdue</span>') == 2
    globex = login(globex_finance).get(reverse("portal:invoice-list"), {"overdue": "on"})
    listed = list(globex.context["page"].object_list)
    assert [i.period for i in listed] == ["2026-09"]
    assert f"{listed[0].amount_due:,.2f} USD" in globex.content.decode()
    paid = login(globex_finance).get(reverse("portal:invoice-list"), {"status": "paid"})
    assert [i.period for i in paid.context["page"].object_list] == ["2026-08"]


def test_overdue_filter_combines_with_customer_and_period(receivables: Billed) -> None:
    client = login(receivables.vendor.admin)
    response = client.get(reverse("portal:invoice-list"), {"overdue": "on", "customer": "acme", "period": "2026-08"})
    assert [(i.customer.external_id, i.period) for i in response.context["page"].object_list] == [("acme", "2026-08")]


def test_aging_is_the_vendors_own(receivables: Billed, stranger, finance_user) -> None:
    stranger_client = login(stranger.admin)
    assert "Globex" not in stranger_client.get(reverse("portal:aging")).content.decode()
    assert "globex" not in stranger_client.get(reverse("portal:aging-csv")).content.decode()
    assert login(finance_user).get(reverse("portal:aging")).status_code == 403
    assert login(finance_user).get(reverse("portal:aging-csv")).status_code == 403
    assert Client().get(reverse("portal:aging-csv")).status_code == 302


def test_the_apis_overdue_filter_agrees_with_the_pages(receivables: Billed) -> None:
    """One predicate: the API's `overdue=true`, the invoice list's filter and the aging page's overdue."""
    vendor = receivables.vendor
    api = Client(HTTP_AUTHORIZATION=f"Bearer {vendor.api.raw_key}")
    response = api.get("/api/v1/invoices", {"overdue": "true"})
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    by_api = {row["number"] for row in rows}
    page = login(vendor.admin).get(reverse("portal:invoice-list"), {"overdue": "on"})
    by_page = {invoice.number for invoice in page.context["page"].object_list}
    assert by_api == by_page and len(by_page) == 3
    aging = aging_report(organization=vendor.organization, today=timezone.now().date())
    overdue_due = sum((Decimal(row["amount_due"]) for row in rows), Decimal(0))
    assert overdue_due == aging.overdue_of("USD")


def test_the_aging_page_query_count_does_not_grow_with_invoices(receivables: Billed, django_assert_num_queries) -> None:
    client = login(receivables.vendor.admin)
    # session, user, organization, the open invoices with their customers (one query however many)
    with django_assert_num_queries(4):
        client.get(reverse("portal:aging"))
    with django_assert_num_queries(4):
        client.get(reverse("portal:aging-csv"))
