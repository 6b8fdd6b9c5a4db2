"""Amounts a person or client enters are whole minor units of their currency, refused naming the field
otherwise; unit prices may be finer, and the lines they price are rounded."""

from decimal import Decimal

import pytest

from billing.models import CreditGrant, CreditNote, PriceBook
from billing.services.finalize import invoice_finalize
from billing.services.price_books import EntrySpec, price_book_create
from billing.services.wallet import credit_grant_create
from core.errors import DomainError
from core.periods import period_parse
from tests.billing.scenario import OCTOBER, outcomes, post_outcomes, reconcile
from tests.factories import CustomerFactory, OutcomeTypeFactory

pytestmark = pytest.mark.django_db


def _finalized(vendor, currency: str, price: str):
    customer = vendor.customer
    if currency != "USD":
        customer = CustomerFactory.create(organization=vendor.organization, external_id=f"c-{currency.lower()}",
                                          currency=currency)
    OutcomeTypeFactory.create(organization=vendor.organization, code=f"t_{currency.lower()}", price=Decimal(price),
                              currency=currency)
    post_outcomes(vendor.organization, outcomes(customer, 2, outcome=f"t_{currency.lower()}",
                                                prefix=currency.lower()))
    return invoice_finalize(invoice=reconcile(customer))


@pytest.mark.parametrize(("currency", "price", "amount"), [("USD", "2.00", "0.001"), ("JPY", "300", "0.5"),
                                                           ("KWD", "2.000", "0.1255")])
def test_a_credit_note_finer_than_the_minor_unit_is_refused_through_the_api(vendor, currency, price, amount) -> None:
    invoice = _finalized(vendor, currency, price)
    response = vendor.api.post(f"/api/v1/invoices/{invoice.pk}/credit-notes",
                               {"reason": "goodwill", "lines": [{"amount": amount, "description": "x"}]})
    assert response.status_code == 400, response.content
    places = {"USD": 2, "JPY": 0, "KWD": 3}[currency]
    assert response.json()["errors"] == {"lines[0].amount": f"{amount} has more decimals than {currency}'s {places}."}
    assert not CreditNote.objects.exists()


def test_a_credit_note_in_whole_minor_units_is_issued(vendor) -> None:
    invoice = _finalized(vendor, "JPY", "300")
    response = vendor.api.post(f"/api/v1/invoices/{invoice.pk}/credit-notes",
                               {"reason": "goodwill", "lines": [{"amount": "100", "description": "x"}]})
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(("currency", "amount"), [("KWD", "0.1255"), ("JPY", "100.5"), ("USD", "0.001")])
def test_a_credit_grant_finer_than_the_minor_unit_is_refused(vendor, currency, amount) -> None:
    response = vendor.api.post("/api/v1/customers/acme/credit-grants", {"amount": amount, "currency": currency})
    assert response.status_code == 400, response.content
    assert "amount" in response.json()["errors"]
    with pytest.raises(DomainError) as refused:
        credit_grant_create(customer=vendor.customer, amount=Decimal(amount), currency=currency)
    assert refused.value.field == "amount"
    assert not CreditGrant.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("spend_cap", "5.005"), ("minimum_commit", "0.001"),
                                              ("platform_fee", "9.999")])
def test_a_price_book_amount_finer_than_the_minor_unit_is_refused(vendor, field, value) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization)
    response = vendor.api.post("/api/v1/customers/acme/price-books", {
        "effective_from": "2026-10", "currency": "USD", field: value,
        "entries": [{"outcome": "ticket_resolved", "unit_price": "0.0025"}],
    })
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {field: f"{value} has more decimals than USD's 2."}
    assert not PriceBook.objects.exists()


def test_a_jpy_spend_cap_with_a_fraction_is_refused_by_the_service(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization)
    with pytest.raises(DomainError) as refused:
        price_book_create(customer=vendor.customer, effective_from=period_parse("2026-10"), currency="JPY",
                          entries=[EntrySpec(outcome="ticket_resolved", unit_price=Decimal(3))],
                          spend_cap=Decimal("100.5"))
    assert refused.value.field == "spend_cap"


def test_unit_prices_finer_than_the_minor_unit_price_rounded_lines(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization)
    price_book_create(customer=vendor.customer, effective_from=OCTOBER, currency="USD",
                      entries=[EntrySpec(outcome="ticket_resolved", unit_price=Decimal("0.125"))],
                      spend_cap=Decimal("5.00"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, 3))
    invoice = reconcile(vendor.customer)
    assert [(line.unit_price, line.amount) for line in invoice.lines.all()] == [(Decimal("0.125"), Decimal("0.13"))] * 3
    assert invoice.total == Decimal("0.39")
