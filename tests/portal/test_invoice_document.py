"""The invoice page opens on the document (parties, dates, summary, tax, amount due, how to pay) with the
per-task itemization below it, paged; the summary CSV, the PDF and the API show the same figures; a
customer never sees cost or margin; another customer or organization gets 404."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from accounts.billing_details import billing_profile_logo_set
from accounts.models import BillingProfile, Customer
from billing.models import Invoice, TaxRate
from billing.services.payments import invoice_payment_link_set
from billing.services.reconcile import reconcile_customer
from core.periods import Period
from tests.portal.conftest import Priced, login

pytestmark = pytest.mark.django_db


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _rows(response) -> list[dict[str, str]]:
    body = _body(response)
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def documented(priced: Priced) -> Priced:
    """Priced's October invoice with a seller profile, a German buyer and VAT on its November draft."""
    organization = priced.vendor.organization
    BillingProfile.objects.create(organization=organization, legal_name="Vendor Labs GmbH", address_line1="Weg 1",
                                  city="Berlin", country="DE", tax_id="DE811111111", memo="Thanks!",
                                  payment_instructions="IBAN DE00 1234")
    Customer.objects.filter(pk=priced.vendor.customer.pk).update(billing_name="Acme GmbH", country="DE",
                                                                 address_line1="Hauptstr. 5", tax_id="DE999")
    TaxRate.objects.create(organization=organization, name="VAT", jurisdiction="Germany", country="DE",
                           percentage=Decimal("19"))
    priced.november = reconcile_customer(customer_id=priced.vendor.customer.pk, period=Period(priced.november.period_start))
    return priced


def test_the_page_opens_on_the_document_then_the_itemization(documented: Priced, finance_user) -> None:
    invoice = documented.november
    html = login(finance_user).get(reverse("portal:invoice-detail", args=[invoice.pk])).content.decode()

    for expected in ("Vendor Labs GmbH", "DE811111111", "Acme GmbH", "Hauptstr. 5", "Net 30", "VAT 19% (Germany)",
                     "Amount due", "IBAN DE00 1234", "Thanks!", "Summary CSV"):
        assert expected in html, expected
    assert html.index("Summary") < html.index("Amount due") < html.index("Itemization")
    assert "Cost to serve" not in html and "Margin" not in html
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert f"{invoice.amount_due:,.2f} USD" in html and invoice.tax_total > 0


def test_the_vendor_sees_the_same_document_and_its_costs(documented: Priced, vendor) -> None:
    html = login(vendor.admin).get(reverse("portal:invoice-detail", args=[documented.november.pk])).content.decode()
    assert "VAT 19% (Germany)" in html and "Cost to serve" in html


def test_page_summary_csv_pdf_and_api_agree(documented: Priced, finance_user, vendor) -> None:
    invoice = Invoice.objects.get(pk=documented.october.pk)
    client = login(finance_user)
    page = client.get(reverse("portal:invoice-detail", args=[invoice.pk])).context["document"]
    rows = _rows(client.get(reverse("portal:invoice-summary-csv", args=[invoice.pk])))
    api = vendor.api.get(f"/api/v1/invoices/{invoice.pk}").json()
    pdf_page = PdfReader(io.BytesIO(_body(client.get(reverse("portal:invoice-pdf", args=[invoice.pk]))))).pages[0]
    pdf = pdf_page.extract_text()

    summary_rows = [row for row in rows if row["kind"] not in ("subtotal", "prepaid_credit", "tax", "total",
                                                               "amount_paid", "amount_due")]
    api_summary = [s for s in api["summary"] if s["kind"] != "prepaid_credit"]  # the CSV shows it with the totals
    assert [row["amount"] for row in summary_rows] == [s["amount"] for s in api_summary] == [
        f"{line.amount:.2f}" for line in page.summary if line.kind != "prepaid_credit"]
    assert [row["description"] for row in summary_rows] == [s["description"] for s in api_summary]
    totals = {row["kind"]: row["amount"] for row in rows}
    assert totals["total"] == api["total"] == f"{page.total:.2f}" == f"{invoice.total:.2f}"
    assert totals["amount_due"] == api["amount_due"] == f"{page.amount_due:.2f}"
    assert totals["prepaid_credit"] == f"{-page.prepaid:.2f}"
    assert f"{invoice.total:,.2f} USD" in pdf and "Ticket resolved, 3 at 2.00 then" in pdf
    assert "Ticket resolved, 3 at 2.00 then" in summary_rows[0]["description"]


def test_the_line_csv_prints_money_with_minor_units(documented: Priced, finance_user) -> None:
    rows = _rows(login(finance_user).get(reverse("portal:invoice-csv", args=[documented.october.pk])))
    assert {row["unit_price"] for row in rows if row["note"] == "tier 1"} == {"2.00"}
    assert {row["unit_price"] for row in rows if row["note"] == "tier 2"} == {"1.50"}
    assert {row["amount"] for row in rows if row["kind"] == "platform_fee"} == {"10.00"}
    assert all(len(row["amount"].split(".")[1]) == 2 for row in rows)


def test_the_payment_link_and_logo_show_on_the_page(documented: Priced, finance_user, vendor) -> None:
    invoice = invoice_payment_link_set(invoice=documented.october, url="https://pay.example.com/acme/1")
    png = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (8, 4), "navy").save(png, format="PNG")
    billing_profile_logo_set(organization=vendor.organization, data=png.getvalue())
    client = login(finance_user)

    html = client.get(reverse("portal:invoice-detail", args=[invoice.pk])).content.decode()
    assert 'href="https://pay.example.com/acme/1"' in html and reverse("portal:billing-logo") in html
    logo = client.get(reverse("portal:billing-logo"))
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png" and logo.content == png.getvalue()


@pytest.mark.parametrize("name", ["portal:invoice-detail", "portal:invoice-summary-csv", "portal:invoice-pdf",
                                  "portal:invoice-csv"])
def test_another_customer_or_organization_gets_404(documented: Priced, name, globex_finance, stranger) -> None:
    for user in (globex_finance, stranger.admin):
        assert login(user).get(reverse(name, args=[documented.october.pk])).status_code == 404
