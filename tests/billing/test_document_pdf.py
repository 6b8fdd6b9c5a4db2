"""The invoice PDF read back with pypdf: page 1 holds the parties, dates, summary, tax per rate and the
amount due; the itemization follows with its table header on every page, every task id whole (wrapped,
never cut), money with its currency's minor units, and "page n of m" footers that are right."""

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from accounts.models import BillingProfile, Customer
from billing.audience import Audience
from billing.invoice_pdf import COLUMNS, MARGIN, invoice_pdf_bytes, invoice_pdf_stream, wrap
from billing.models import Invoice, TaxRate
from billing.selectors.document import invoice_document
from billing.services.finalize import invoice_finalize
from billing.services.payments import invoice_payment_link_set
from billing.services.price_books import EntrySpec, price_book_create
from billing.services.reconcile import reconcile_customer
from core.periods import period_parse
from tests.billing.scenario import at, post_outcomes
from tests.conftest import Vendor
from tests.factories import OutcomeTypeFactory

pytestmark = pytest.mark.django_db

OCTOBER = period_parse("2026-10")
LONG = "support-ticket-" + "x" * 60 + "-very-long-task-identifier-from-the-vendors-ticketing-system"


def _task(i: int) -> str:
    return f"{LONG}-{i}" if i % 7 == 0 else f"ticket-{i:05d}"


@pytest.fixture
def invoice(vendor: Vendor) -> Invoice:
    """130 tickets (every seventh with a 140-character task id) at 250 then 3.5, VAT 19%, finalized."""
    organization = vendor.organization
    OutcomeTypeFactory.create(organization=organization, code="ticket_resolved", name="Support ticket resolved")
    price_book_create(customer=vendor.customer, effective_from=OCTOBER, currency="USD", entries=[EntrySpec(
        "ticket_resolved", "graduated", tiers=[{"up_to": 2, "unit_price": "250"}, {"up_to": None, "unit_price": "3.5"}],
    )])
    BillingProfile.objects.create(organization=organization, legal_name="Vendor Labs GmbH", address_line1="Weg 1",
                                  postal_code="10115", city="Berlin", country="DE", tax_id="DE811111111",
                                  memo="Thank you for your business.", payment_instructions="IBAN DE00 1234 5678",
                                  footer="Vendor Labs GmbH · Amtsgericht Berlin HRB 1")
    Customer.objects.filter(pk=vendor.customer.pk).update(
        billing_name="Łódź Café Sp. z o.o.", address_line1="ul. Piotrkowska 1", city="Łódź", country="DE",
        tax_id="PL5260001246", billing_email="ap@acme.example")
    TaxRate.objects.create(organization=organization, name="VAT", jurisdiction="Germany", country="DE",
                           percentage=Decimal("19"))
    post_outcomes(organization, [
        {"idempotency_key": f"k{i}", "customer": "acme", "outcome": "ticket_resolved", "task_id": _task(i),
         "timestamp": at(1 + i % 28, hour=i % 24)} for i in range(130)
    ])
    draft = reconcile_customer(customer_id=vendor.customer.pk, period=OCTOBER)
    finalized = invoice_finalize(invoice=draft, now=datetime(2026, 11, 2, tzinfo=UTC))
    return invoice_payment_link_set(invoice=finalized, url="https://pay.example.com/inv/1")


def _pdf(invoice: Invoice) -> PdfReader:
    document = invoice_document(Invoice.objects.get(pk=invoice.pk), audience=Audience.CUSTOMER)
    return PdfReader(io.BytesIO(invoice_pdf_bytes(document)))


def test_page_one_holds_parties_dates_summary_tax_and_amount_due(invoice: Invoice) -> None:
    page_one = _pdf(invoice).pages[0].extract_text()

    for expected in (
        "INVOICE", "INV-000001", "Vendor Labs GmbH", "DE811111111", "Łódź Café Sp. z o.o.", "PL5260001246",
        "ap@acme.example", "2026-11-02", "2026-12-02", "Net 30",
        "Support ticket resolved, 2 at 250.00 then 128 at 3.50", "948.00 USD",
        "VAT 19% (Germany) on 948.00 USD", "180.12 USD", "1,128.12 USD", "AMOUNT DUE by 2026-12-02",
        "Thank you for your business.", "IBAN DE00 1234 5678", "Pay online: https://pay.example.com/inv/1",
    ):
        assert expected in page_one, expected
    assert invoice.total == Decimal("1128.12")


def test_the_itemization_repeats_its_header_and_numbers_pages_n_of_m(invoice: Invoice) -> None:
    reader = _pdf(invoice)
    pages = [page.extract_text() for page in reader.pages]
    total = len(pages)

    assert total >= 4  # the document page, then 130 lines of which 19 wrap
    for number, text in enumerate(pages, 1):
        assert f"Page {number} of {total}" in text
    for text in pages[1:]:
        assert "Task" in text and "Unit price" in text and "Amount (USD)" in text
    appendix = "\n".join(pages[1:])
    assert "250.00" in appendix and "3.50" in appendix and "Support ticket resolved" in appendix
    assert f"on pages 2 to {total}" in pages[0]


def test_every_task_id_appears_whole_in_the_appendix(invoice: Invoice) -> None:
    reader = _pdf(invoice)
    task_x = (MARGIN + COLUMNS[0].width, MARGIN + COLUMNS[0].width + COLUMNS[1].width)
    fragments: list[str] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text.strip() and task_x[0] <= tm[4] < task_x[1]:
            fragments.append(text.strip())

    for page in reader.pages[1:]:
        page.extract_text(visitor_text=visit)
    column = "".join(fragments)

    for i in range(130):
        assert _task(i) in column, _task(i)
    assert len(wrap(_task(0), COLUMNS[1].width)) > 1  # the long ids did need wrapping


def test_the_pdf_streams_the_appendix_page_by_page(invoice: Invoice) -> None:
    document = invoice_document(Invoice.objects.get(pk=invoice.pk), audience=Audience.CUSTOMER)
    chunks = list(invoice_pdf_stream(document))
    pages = len(PdfReader(io.BytesIO(b"".join(chunks))).pages)

    assert len(chunks) >= 2 * (pages - 1)  # every appendix page is sent on its own (content, page object)
    assert max(len(chunk) for chunk in chunks[1:]) < 20_000


def test_a_draft_with_no_lines_is_one_page(vendor: Vendor) -> None:
    draft = reconcile_customer(customer_id=vendor.customer.pk, period=OCTOBER)
    reader = _pdf(draft)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "DRAFT" in text and "AMOUNT DUE" in text and "0.00 USD" in text


def test_a_reverse_charge_invoice_says_so_on_page_one(vendor: Vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, code="ticket_resolved", name="Support ticket resolved")
    Customer.objects.filter(pk=vendor.customer.pk).update(country="DE", tax_status="reverse_charge", tax_id="DE999")
    TaxRate.objects.create(organization=vendor.organization, name="VAT", country="DE", percentage=Decimal("19"))
    post_outcomes(vendor.organization, [{"idempotency_key": "k1", "customer": "acme", "outcome": "ticket_resolved",
                                         "task_id": "t1", "timestamp": at(3)}])
    draft = reconcile_customer(customer_id=vendor.customer.pk, period=OCTOBER)

    text = _pdf(draft).pages[0].extract_text()

    assert "Reverse charge: the customer accounts for the tax (customer tax id DE999)." in text
    assert "VAT" not in text and "AMOUNT DUE" in text
