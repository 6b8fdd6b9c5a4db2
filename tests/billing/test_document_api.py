"""API: the invoice answer carries its document (summary, taxes, parties, dates, amount due), the list
filters by status and overdue, the PDF is streamed, payments and the link are recorded; billing profile,
customer billing details and tax rates have endpoints. Bad input is a 400 naming the field; another
organization, or another customer's key, gets 404."""

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from accounts.models import Customer
from accounts.services import api_key_create
from billing.models import Invoice, TaxRate
from billing.selectors.document import invoice_summary
from billing.services.finalize import invoice_finalize, invoice_mark_paid
from billing.services.price_books import EntrySpec, price_book_create
from billing.services.reconcile import reconcile_customer
from core.periods import period_parse
from tests.billing.scenario import outcomes, post_outcomes
from tests.conftest import ApiClient, Vendor
from tests.factories import CustomerFactory, OutcomeTypeFactory

pytestmark = pytest.mark.django_db

OCTOBER = period_parse("2026-10")


@pytest.fixture
def taxed(vendor: Vendor) -> Invoice:
    """Acme (DE, VAT 19%): 5 tickets at 2.00 and a 10.00 platform fee, finalized on 2026-11-02 (due 12-02)."""
    OutcomeTypeFactory.create(organization=vendor.organization, code="ticket_resolved", name="Support ticket resolved")
    price_book_create(customer=vendor.customer, effective_from=OCTOBER, currency="USD",
                      entries=[EntrySpec("ticket_resolved", unit_price=Decimal("2"))], platform_fee=Decimal("10"))
    Customer.objects.filter(pk=vendor.customer.pk).update(country="DE", billing_name="Acme GmbH")
    TaxRate.objects.create(organization=vendor.organization, name="VAT", country="DE", percentage=Decimal("19"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, 5))
    draft = reconcile_customer(customer_id=vendor.customer.pk, period=OCTOBER)
    return invoice_finalize(invoice=draft, now=datetime(2026, 11, 2, tzinfo=UTC))


def _customer_key(vendor: Vendor, customer: Customer) -> ApiClient:
    return ApiClient(api_key_create(organization=vendor.organization, customer=customer)[1])


def test_the_invoice_answer_carries_its_document(vendor: Vendor, taxed: Invoice) -> None:
    body = vendor.api.get(f"/api/v1/invoices/{taxed.pk}").json()

    assert (body["issue_date"], body["due_date"]) == ("2026-11-02", "2026-12-02")
    assert body["summary"] == [
        {"description": "Support ticket resolved at 2.00", "quantity": "5", "unit_price": "2.00", "amount": "10.00",
         "kind": "outcome"},
        {"description": "Platform fee", "quantity": None, "unit_price": None, "amount": "10.00",
         "kind": "platform_fee"},
    ]
    assert [s["amount"] for s in body["summary"]] == [f"{s.amount:.2f}" for s in invoice_summary(taxed)]
    assert body["taxes"] == [{"name": "VAT", "jurisdiction": "", "rate": "19", "inclusive": False,
                              "taxable_amount": "20.00", "amount": "3.80"}]
    assert (body["subtotal"], body["tax_total"], body["total"]) == ("20.00", "3.80", "23.80")
    assert (body["amount_paid"], body["amount_due"], body["overdue"]) == ("0.00", "23.80", False)
    assert body["bill_to"]["name"] == "Acme GmbH" and body["bill_from"]["name"] == vendor.organization.name
    assert body["payment_terms_days"] == 30 and body["payment_url"] == "" and body["payments"] == []
    assert len(body["lines"]) == 6  # the fields it had are kept


def test_a_customer_key_reads_the_same_document_without_costs(vendor: Vendor, taxed: Invoice) -> None:
    vendor_body = vendor.api.get(f"/api/v1/invoices/{taxed.pk}").json()
    body = _customer_key(vendor, vendor.customer).get(f"/api/v1/invoices/{taxed.pk}").json()

    for key in ("summary", "taxes", "total", "amount_due", "bill_to", "bill_from"):
        assert body[key] == vendor_body[key], key
    assert all("cost" not in line for line in body["lines"])


def test_the_list_filters_by_status_and_overdue(vendor: Vendor, taxed: Invoice) -> None:
    invoice_mark_paid(invoice=taxed)
    late = CustomerFactory.create(organization=vendor.organization, external_id="globex")
    post_outcomes(vendor.organization, outcomes(late, 2, prefix="g"))
    overdue = invoice_finalize(invoice=reconcile_customer(customer_id=late.pk, period=OCTOBER),
                               now=datetime(2026, 10, 1, tzinfo=UTC))  # due 2026-10-31, unpaid
    draft = reconcile_customer(customer_id=late.pk, period=period_parse("2026-11"))

    assert [i["id"] for i in vendor.api.get("/api/v1/invoices", overdue="true").json()] == [overdue.pk]
    assert {i["id"] for i in vendor.api.get("/api/v1/invoices", overdue="false").json()} == {taxed.pk, draft.pk}
    assert [i["id"] for i in vendor.api.get("/api/v1/invoices", status="draft").json()] == [draft.pk]
    listed = vendor.api.get("/api/v1/invoices", status="finalized").json()
    assert listed[0]["overdue"] is True and listed[0]["amount_due"] == listed[0]["total"] != "0.00"
    for params, field in (({"status": "late"}, "status"), ({"overdue": "maybe"}, "overdue")):
        response = vendor.api.get("/api/v1/invoices", **params)
        assert response.status_code == 400 and field in response.json()["errors"]


def test_the_pdf_is_streamed_and_scoped(vendor: Vendor, stranger: Vendor, taxed: Invoice) -> None:
    response = _customer_key(vendor, vendor.customer).get(f"/api/v1/invoices/{taxed.pk}/pdf")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.streaming
    text = PdfReader(io.BytesIO(b"".join(response.streaming_content))).pages[0].extract_text()
    assert "AMOUNT DUE" in text and "23.80 USD" in text and "VAT 19%" in text
    other = CustomerFactory.create(organization=vendor.organization, external_id="globex")
    assert _customer_key(vendor, other).get(f"/api/v1/invoices/{taxed.pk}/pdf").status_code == 404
    assert stranger.api.get(f"/api/v1/invoices/{taxed.pk}/pdf").status_code == 404


def test_payments_and_the_payment_link(vendor: Vendor, stranger: Vendor, taxed: Invoice) -> None:
    url = f"/api/v1/invoices/{taxed.pk}"
    assert vendor.api.client.put(f"{url}/payment-link", {"payment_url": "https://pay.example.com/x"},
                                 content_type="application/json").json()["payment_url"] == "https://pay.example.com/x"

    paid = vendor.api.post(f"{url}/payments", {"amount": "3.80", "source": "bank_transfer", "reference": "tx-9"})
    assert paid.status_code == 201 and paid.json()["amount_due"] == "20.00"
    again = vendor.api.post(f"{url}/payments", {"amount": "3.80", "source": "bank_transfer", "reference": "tx-9"})
    assert again.json()["amount_paid"] == "3.80"  # recorded once
    too_much = vendor.api.post(f"{url}/payments", {"amount": "50.00"})
    assert too_much.status_code == 400 and "amount" in too_much.json()["errors"]
    assert vendor.api.post(f"{url}/payments", {"amount": "20.00"}).json()["status"] == "paid"
    assert stranger.api.post(f"{url}/payments", {"amount": "1.00"}).status_code == 404
    assert _customer_key(vendor, vendor.customer).post(f"{url}/payments", {"amount": "1.00"}).status_code == 403


def test_billing_profile_and_customer_billing_details(vendor: Vendor, stranger: Vendor) -> None:
    api = vendor.api
    response = api.client.patch("/api/v1/billing-profile", {"legal_name": "Vendor Inc.", "country": "us",
                                                            "payment_terms_days": 14},
                                content_type="application/json")
    assert response.status_code == 200
    assert api.get("/api/v1/billing-profile").json()["country"] == "US"
    bad = api.client.patch("/api/v1/billing-profile", {"payment_terms_days": 9999}, content_type="application/json")
    assert bad.status_code == 400 and "payment_terms_days" in bad.json()["errors"]

    details = api.client.patch("/api/v1/customers/acme/billing-details",
                               {"billing_name": "Acme Ltd", "tax_status": "reverse_charge", "country": "FR"},
                               content_type="application/json")
    assert details.status_code == 200 and details.json()["tax_status"] == "reverse_charge"
    bad = api.client.patch("/api/v1/customers/acme/billing-details", {"tax_status": "sometimes"},
                           content_type="application/json")
    assert bad.status_code == 400 and "tax_status" in bad.json()["errors"]
    assert stranger.api.get("/api/v1/customers/acme/billing-details").json()["billing_name"] == ""  # its own acme
    assert _customer_key(vendor, vendor.customer).get("/api/v1/customers/acme/billing-details").status_code == 200
    assert _customer_key(vendor, vendor.customer).get("/api/v1/billing-profile").status_code == 403


def test_tax_rates_are_managed_and_assigned(vendor: Vendor, stranger: Vendor) -> None:
    api = vendor.api
    created = api.post("/api/v1/tax-rates", {"name": "VAT", "country": "de", "percentage": "19"})
    assert created.status_code == 201 and created.json()["country"] == "DE"
    rate_id = created.json()["id"]
    for body, field in (({"name": "X", "country": "Germany", "percentage": "19"}, "country"),
                        ({"name": "X", "country": "DE", "percentage": "101"}, "percentage"),
                        ({"name": "X", "country": "DE", "percentage": "1.00001"}, "percentage")):
        response = api.post("/api/v1/tax-rates", body)
        assert response.status_code == 400 and field in response.json()["errors"], body
    patched = api.client.patch(f"/api/v1/tax-rates/{rate_id}", {"percentage": "7.5", "active": False},
                               content_type="application/json")
    assert patched.json()["percentage"] == "7.5" and patched.json()["active"] is False
    assert stranger.api.get(f"/api/v1/tax-rates/{rate_id}").status_code == 404

    assigned = api.client.put("/api/v1/customers/acme/tax-rates", {"tax_rates": [rate_id]},
                              content_type="application/json")
    assert [r["id"] for r in assigned.json()] == [rate_id]
    assert [r["id"] for r in api.get("/api/v1/customers/acme/tax-rates").json()] == [rate_id]
    foreign = stranger.api.client.put("/api/v1/customers/acme/tax-rates", {"tax_rates": [rate_id]},
                                      content_type="application/json")
    assert foreign.status_code == 404 and "tax_rates" in foreign.json()["errors"]
