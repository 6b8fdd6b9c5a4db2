"""The invoice as a document: summary lines, tax per rate (exempt and reverse charge say so), issue and
due dates from payment terms, parties frozen at issue, payments and the payment link; and the database
keeps a finalized invoice frozen except for its payment columns."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.models import BillingProfile, Customer
from billing.audience import Audience
from billing.models import CustomerTaxRate, Invoice, InvoicePayment, InvoiceTax, TaxRate
from billing.selectors.document import SummaryKind, invoice_document, invoice_summary, price_text
from billing.services.finalize import invoice_finalize, invoice_mark_paid
from billing.services.payments import invoice_payment_link_set, invoice_payment_record
from billing.services.price_books import EntrySpec, price_book_create
from billing.services.reconcile import reconcile_customer
from core.errors import DomainError, InvalidState
from core.periods import period_parse
from tests.billing.scenario import outcomes, post_outcomes
from tests.conftest import Vendor
from tests.factories import OutcomeTypeFactory

pytestmark = pytest.mark.django_db

OCTOBER = period_parse("2026-10")
PAID_AT = datetime(2026, 11, 10, tzinfo=UTC)


@pytest.fixture
def graduated(vendor: Vendor) -> Vendor:
    """10 tickets: 8 at 0.99 then 2 at 0.79, 2 included before them, a 25.00 platform fee."""
    OutcomeTypeFactory.create(organization=vendor.organization, code="ticket_resolved", name="Support ticket resolved")
    price_book_create(customer=vendor.customer, effective_from=OCTOBER, currency="USD", entries=[EntrySpec(
        "ticket_resolved", "graduated", tiers=[{"up_to": 8, "unit_price": "0.99"}, {"up_to": None, "unit_price": "0.79"}],
    )], platform_fee=Decimal("25"), included_outcomes=2)
    post_outcomes(vendor.organization, outcomes(vendor.customer, 12))
    return vendor


def _invoice(vendor: Vendor) -> Invoice:
    return reconcile_customer(customer_id=vendor.customer.pk, period=OCTOBER)


def test_summary_has_one_line_per_type_with_its_tiers_then_included_then_fee(graduated: Vendor) -> None:
    summary = invoice_summary(_invoice(graduated))

    assert [s.kind for s in summary] == [SummaryKind.OUTCOME, SummaryKind.INCLUDED, SummaryKind.PLATFORM_FEE]
    tickets = summary[0]
    assert tickets.label == "10 × Support ticket resolved, 8 at 0.99 then 2 at 0.79"
    assert tickets.amount == Decimal("9.50") and tickets.unit_price is None
    assert summary[1].quantity == 2 and summary[1].amount == 0
    assert summary[2].description == "Platform fee" and summary[2].amount == Decimal("25.00")


def test_prices_print_with_the_currencys_minor_units() -> None:
    assert price_text(Decimal("3.5"), "USD") == "3.50"
    assert price_text(Decimal("250"), "USD") == "250.00"
    assert price_text(Decimal("0.0025"), "USD") == "0.0025"
    assert price_text(Decimal("1200"), "JPY") == "1,200"


def test_a_country_rate_taxes_the_summary_and_adds_to_the_total(graduated: Vendor) -> None:
    Customer.objects.filter(pk=graduated.customer.pk).update(country="DE")
    TaxRate.objects.create(organization=graduated.organization, name="VAT", jurisdiction="Germany", country="DE",
                           percentage=Decimal("19"))
    TaxRate.objects.create(organization=graduated.organization, name="Other", country="FR", percentage=Decimal("20"))

    invoice = _invoice(graduated)

    (tax,) = invoice.taxes.all()
    assert (tax.name, tax.taxable_amount, tax.amount) == ("VAT", Decimal("34.50"), Decimal("6.56"))  # 6.555 half-up
    assert invoice.tax_total == Decimal("6.56") and invoice.total == Decimal("41.06")
    assert invoice.amount_due == Decimal("41.06")


def test_an_inclusive_rate_is_shown_but_not_added(graduated: Vendor) -> None:
    Customer.objects.filter(pk=graduated.customer.pk).update(country="DE")
    TaxRate.objects.create(organization=graduated.organization, name="VAT", country="DE", percentage=Decimal("15"),
                           inclusive=True)

    invoice = _invoice(graduated)

    assert invoice.total == Decimal("34.50")
    assert invoice.tax_total == Decimal("4.50")  # 34.50 × 15 / 115


def test_region_rates_apply_to_that_region_only_and_assigned_rates_win(graduated: Vendor) -> None:
    organization = graduated.organization
    Customer.objects.filter(pk=graduated.customer.pk).update(country="US", region="NY")
    TaxRate.objects.create(organization=organization, name="CA sales tax", country="US", region="CA",
                           percentage=Decimal("7.25"))
    assert not _invoice(graduated).taxes.exists()

    special = TaxRate.objects.create(organization=organization, name="Special", country="GB", percentage=Decimal("5"))
    CustomerTaxRate.objects.create(organization=organization, customer=graduated.customer, tax_rate=special)

    assert [t.name for t in _invoice(graduated).taxes.all()] == ["Special"]


@pytest.mark.parametrize(("status", "says"), [("exempt", "Tax exempt (cert 42)"), ("reverse_charge", "Reverse charge")])
def test_exempt_and_reverse_charge_customers_pay_no_tax_and_the_invoice_says_so(graduated: Vendor, status: str,
                                                                                 says: str) -> None:
    Customer.objects.filter(pk=graduated.customer.pk).update(country="DE", tax_status=status, tax_id="DE123",
                                                             tax_exemption_reference="cert 42")
    TaxRate.objects.create(organization=graduated.organization, name="VAT", country="DE", percentage=Decimal("19"))

    invoice = _invoice(graduated)

    assert not invoice.taxes.exists() and invoice.tax_total == 0 and invoice.total == Decimal("34.50")
    assert invoice.tax_note.startswith(says)


def test_finalizing_sets_the_dates_from_the_terms_and_freezes_the_parties(graduated: Vendor) -> None:
    BillingProfile.objects.create(organization=graduated.organization, legal_name="Vendor GmbH", address_line1="Weg 1",
                                  city="Berlin", country="DE", tax_id="DE999", payment_terms_days=45)
    Customer.objects.filter(pk=graduated.customer.pk).update(billing_name="Acme Ltd", address_line1="1 Road",
                                                             payment_terms_days=15)

    invoice = invoice_finalize(invoice=_invoice(graduated), now=datetime(2026, 11, 3, 9, tzinfo=UTC))
    Customer.objects.filter(pk=graduated.customer.pk).update(billing_name="Renamed", address_line1="Elsewhere")

    assert invoice.issue_date == date(2026, 11, 3) and invoice.due_date == date(2026, 11, 18)
    document = invoice_document(Invoice.objects.get(pk=invoice.pk), audience=Audience.CUSTOMER,
                                today=date(2026, 11, 19))
    assert document.bill_to.name == "Acme Ltd" and document.bill_to.address == ["1 Road"]
    assert document.bill_from.name == "Vendor GmbH" and document.bill_from.tax_id == "DE999"
    assert document.overdue and document.amount_due == Decimal("34.50")


def test_net_30_by_default(graduated: Vendor) -> None:
    invoice = invoice_finalize(invoice=_invoice(graduated), now=datetime(2026, 11, 3, tzinfo=UTC))
    assert invoice.due_date == date(2026, 12, 3)


def test_payments_add_up_once_per_reference_and_paid_in_full_is_paid(graduated: Vendor) -> None:
    invoice = invoice_finalize(invoice=_invoice(graduated))

    invoice = invoice_payment_record(invoice=invoice, amount=Decimal("10"), paid_at=PAID_AT, source="bank_transfer",
                                     reference="tx-1")
    invoice = invoice_payment_record(invoice=invoice, amount=Decimal("10"), paid_at=PAID_AT, source="bank_transfer",
                                     reference="tx-1")  # the same transfer again: nothing added
    assert invoice.amount_paid == Decimal("10") and invoice.amount_due == Decimal("24.50")
    assert invoice.status == "finalized"

    with pytest.raises(DomainError) as too_much:
        invoice_payment_record(invoice=invoice, amount=Decimal("30"), paid_at=PAID_AT, source="manual")
    assert too_much.value.field == "amount"
    with pytest.raises(DomainError) as fine:
        invoice_payment_record(invoice=invoice, amount=Decimal("0.001"), paid_at=PAID_AT, source="manual")
    assert fine.value.field == "amount"

    invoice = invoice_payment_record(invoice=invoice, amount=Decimal("24.50"), paid_at=PAID_AT, source="stripe",
                                     reference="pi_1")
    assert invoice.status == "paid" and invoice.paid_at == PAID_AT and invoice.amount_due == 0
    assert InvoicePayment.objects.filter(invoice=invoice).count() == 2


def test_mark_as_paid_records_what_is_left_as_a_manual_payment(graduated: Vendor) -> None:
    invoice = invoice_finalize(invoice=_invoice(graduated))
    invoice_payment_record(invoice=invoice, amount=Decimal("4.50"), paid_at=PAID_AT, source="bank_transfer")

    invoice = invoice_mark_paid(invoice=invoice)

    assert invoice.status == "paid" and invoice.amount_paid == invoice.total
    assert InvoicePayment.objects.get(invoice=invoice, source="manual").amount == Decimal("30.00")


def test_a_payment_link_is_set_on_a_finalized_invoice_only(graduated: Vendor) -> None:
    draft = _invoice(graduated)
    with pytest.raises(InvalidState):
        invoice_payment_link_set(invoice=draft, url="https://pay.example.com/1")
    invoice = invoice_finalize(invoice=draft)
    with pytest.raises(DomainError) as bad:
        invoice_payment_link_set(invoice=invoice, url="javascript:alert(1)")
    assert bad.value.field == "payment_url"

    invoice = invoice_payment_link_set(invoice=invoice, url="https://pay.example.com/1")

    assert Invoice.objects.get(pk=invoice.pk).payment_url == "https://pay.example.com/1"


def test_the_database_lets_only_payment_columns_move_on_a_finalized_invoice(graduated: Vendor) -> None:
    Customer.objects.filter(pk=graduated.customer.pk).update(country="DE")
    TaxRate.objects.create(organization=graduated.organization, name="VAT", country="DE", percentage=Decimal("19"))
    invoice = invoice_finalize(invoice=_invoice(graduated))
    frozen = Invoice.objects.filter(pk=invoice.pk)

    for change in ({"total": Decimal("1")}, {"tax_total": Decimal("0")}, {"due_date": date(2030, 1, 1)},
                   {"bill_to": {"name": "x"}}):
        with pytest.raises(IntegrityError), transaction.atomic():
            frozen.update(**change)
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceTax.objects.filter(invoice=invoice).update(amount=Decimal("0"))
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceTax.objects.filter(invoice=invoice).delete()

    frozen.update(amount_paid=Decimal("1"), payment_url="https://pay.example.com/x")  # allowed while finalized
    payment = InvoicePayment.objects.create(organization=graduated.organization, invoice=invoice, amount=Decimal("1"),
                                            currency="USD", paid_at=PAID_AT, source="manual")
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoicePayment.objects.filter(pk=payment.pk).update(amount=Decimal("2"))
    frozen.update(status="paid", paid_at=PAID_AT)
    with pytest.raises(IntegrityError), transaction.atomic():
        frozen.update(amount_paid=Decimal("5"))  # a paid invoice keeps its payment columns too


def test_the_admin_shows_tax_and_payments_read_only(graduated: Vendor) -> None:
    from django.test import Client
    from django.urls import reverse

    from tests.factories import UserFactory

    Customer.objects.filter(pk=graduated.customer.pk).update(country="DE")
    rate = TaxRate.objects.create(organization=graduated.organization, name="VAT", country="DE",
                                  percentage=Decimal("19"))
    invoice = invoice_finalize(invoice=_invoice(graduated))
    invoice_payment_record(invoice=invoice, amount=Decimal("5"), paid_at=PAID_AT, source="bank_transfer",
                           reference="tx-77")
    client = Client()
    client.force_login(UserFactory.create(organization=graduated.organization, username="root", is_staff=True,
                                          is_superuser=True))

    page = client.get(reverse("admin:billing_invoice_change", args=[invoice.pk])).content.decode()

    assert "VAT" in page and "6.56" in page and "tx-77" in page
    assert 'name="taxes-0-amount"' not in page and 'name="payments-0-amount"' not in page  # shown, not editable
    assert client.get(reverse("admin:billing_taxrate_delete", args=[rate.pk])).status_code == 403


def test_a_tier_flat_fee_is_named_and_per_line_rounding_is_not_taken_for_one(vendor: Vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, code="ticket_resolved", name="Ticket")
    price_book_create(customer=vendor.customer, effective_from=OCTOBER, currency="USD", entries=[EntrySpec(
        "ticket_resolved", "graduated", tiers=[{"up_to": 2, "unit_price": "0.0025"},
                                               {"up_to": None, "unit_price": "1", "flat_fee": "5"}],
    )])
    post_outcomes(vendor.organization, outcomes(vendor.customer, 4))

    (line,) = invoice_summary(_invoice(vendor))

    assert line.description == "Ticket, 2 at 0.0025 then 2 at 1.00 incl. flat fee"
    assert line.amount == Decimal("7.00")  # 0.00 + 0.00 (each rounded), then 1 + 5 and 1
