"""The pricing simulator: the customer's own price book reproduces its invoices to the cent; the other
scenarios follow their definitions; nothing is written."""

from decimal import Decimal
from typing import Any

import pytest

from billing.models import Invoice, InvoiceLine, RoiReport
from billing.services.finalize import invoice_finalize
from outcomes.verification import outcome_confirm
from tests.billing.scenario import outcomes, post_outcomes, reconcile
from tests.factories import OutcomeTypeFactory
from tests.portal.conftest import Billed, Priced

pytestmark = [pytest.mark.django_db]


def _state() -> list[list[Any]]:
    invoices = list(Invoice.objects.order_by("pk").values_list("pk", "status", "total", "subtotal", "updated_at"))
    lines = list(InvoiceLine.objects.order_by("pk").values_list("pk", "amount"))
    reports = list(RoiReport.objects.order_by("pk").values_list("pk", "billed", "computed_at"))
    return [invoices, lines, reports]


def test_the_customers_own_book_equals_its_invoices_to_the_cent(priced: Priced) -> None:
    """Graduated tiers, an included outcome, a platform fee, a spend cap and a finalized period."""
    before = _state()
    response = priced.vendor.api.post("/api/v1/simulations", {"customer": "acme", "periods": ["2026-10", "2026-11"]})
    assert response.status_code == 200, response.content
    rows = {row["period"]: row for row in response.json()}
    for period in ("2026-10", "2026-11"):
        assert rows[period]["invoiced"] is not None
        assert Decimal(rows[period]["price_book"]["paid"]) == Decimal(rows[period]["invoiced"]), rows[period]
    october = priced.october
    own = sum((line.amount for line in october.lines.all()
               if line.service_period_start == october.period_start and line.kind != "prepaid_credit"), Decimal(0))
    assert Decimal(rows["2026-10"]["price_book"]["paid"]) == own
    assert _state() == before  # read only


def test_tokens_and_hybrid_follow_their_definitions(billed: Billed, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        invoice_finalize(invoice=billed.invoice("acme", "2026-09"))
    before = _state()
    response = billed.vendor.api.post("/api/v1/simulations", {
        "customer": "acme", "periods": ["2026-09"], "token_markup": "0.25",
        "price_book": {"currency": "USD", "platform_fee": "5", "entries": [
            {"outcome": "ticket_resolved", "model": "flat", "unit_price": "2.00"}]},
        "hybrid": {"platform_fee": "20", "outcome_price_factor": "0.5",
                   "meters": [{"meter": "llm_tokens", "unit_price": "5", "per": "1000000", "included_quantity": "0"}]},
    })
    assert response.status_code == 200, response.content
    row = response.json()[0]
    cost = Decimal(row["tokens"]["cost_to_serve"])
    assert Decimal(row["tokens"]["paid"]) == (cost * Decimal("1.25")).quantize(Decimal("0.01"))
    # 4 tickets at 2.00 + 1 review at its default 4.00 + 5.00 fee
    assert Decimal(row["price_book"]["paid"]) == Decimal("17.00")
    assert row["price_book"]["outcomes"] == 5
    assert Decimal(row["price_book"]["effective_price_per_outcome"]) == Decimal("3.40")
    # hybrid: 20 fee + outcomes at half price (4 × 0.495 + 2.00) + tokens at 5/M
    assert Decimal(row["hybrid"]["paid"]) > Decimal(20)
    assert Decimal(row["price_book"]["margin"]) == Decimal(row["price_book"]["paid"]) - cost
    assert row["price_book"]["value_delivered"] == row["tokens"]["value_delivered"]
    assert _state() == before


def test_bad_simulations_name_the_field(billed: Billed, stranger) -> None:
    api = billed.vendor.api
    assert "periods" in api.post("/api/v1/simulations", {"periods": []}).json()["errors"]
    assert "periods" in api.post("/api/v1/simulations", {"periods": ["2026-13"]}).json()["errors"]
    assert "customer" in api.post("/api/v1/simulations", {"customer": "nobody", "periods": ["2026-09"]}).json()["errors"]
    bad_book = api.post("/api/v1/simulations", {"periods": ["2026-09"], "price_book": {
        "currency": "USD", "entries": [{"outcome": "nope", "unit_price": "1"}]}})
    assert bad_book.status_code == 400 and "price_book.entries[0].outcome" in bad_book.json()["errors"]
    # Another organization simulates its own (empty) customers, never acme's.
    other = stranger.api.post("/api/v1/simulations", {"customer": "acme", "periods": ["2026-09"]})
    assert other.status_code == 200 and other.json()[0]["price_book"]["outcomes"] == 0


def test_assurance_prices_reproduce_the_invoice_and_a_what_if_factor_changes_the_price(vendor) -> None:
    """F's assurance pricing (billing.pricing) on the customer's own book: confirmed pay 2.00, assumed 1.60."""
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("2.00"),
                              verification_methods=["window", "customer_confirmation"])
    answer = vendor.api.post("/api/v1/customers/acme/price-books", {
        "effective_from": "2026-10", "currency": "USD", "entries": [
            {"outcome": "ticket_resolved", "model": "flat", "unit_price": "2.00", "assumed_price_factor": "0.8"}]})
    assert answer.status_code == 201, answer.content
    post_outcomes(vendor.organization, outcomes(vendor.customer, 5))
    for key in ("o0", "o2", "o4"):
        outcome_confirm(organization=vendor.organization, customer_id=vendor.customer.pk, idempotency_key=key)
    invoice = reconcile(vendor.customer)
    assert invoice.total == Decimal("9.20")
    rows = vendor.api.post("/api/v1/simulations", {"customer": "acme", "periods": ["2026-10"]}).json()
    assert Decimal(rows[0]["price_book"]["paid"]) == invoice.total == Decimal(rows[0]["invoiced"])
    what_if = vendor.api.post("/api/v1/simulations", {"customer": "acme", "periods": ["2026-10"], "price_book": {
        "currency": "USD", "entries": [{"outcome": "ticket_resolved", "unit_price": "2.00",
                                        "assumed_price_factor": "0.5"}]}}).json()
    assert Decimal(what_if[0]["price_book"]["paid"]) == Decimal("8.00")  # 3 × 2.00 + 2 × 1.00
