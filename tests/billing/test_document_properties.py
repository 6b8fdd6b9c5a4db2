"""For generated price books (flat, graduated, volume and package prices, included outcomes, a platform
fee, a minimum commit, prepaid credits) and generated tax rates and payments: the summary lines add up
to the itemization, each type's line counts its outcomes, the tax is each rate on the summary, the total
is the summary plus the exclusive tax, and the amount due is the total less what was paid."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Customer
from billing.models import InvoiceLine, TaxRate
from billing.selectors.document import SummaryKind, invoice_summary
from billing.services.finalize import invoice_finalize
from billing.services.payments import invoice_payment_record
from billing.services.price_books import EntrySpec, price_book_create
from billing.services.reconcile import reconcile_customer
from billing.services.wallet import credit_grant_create
from core.money import round_money
from core.periods import period_parse
from tests.billing.scenario import at, post_outcomes
from tests.conftest import Vendor
from tests.factories import OutcomeTypeFactory

pytestmark = pytest.mark.django_db

OCTOBER = period_parse("2026-10")
ZERO = Decimal(0)
PRICES = st.decimals(min_value=0, max_value=50, places=4, allow_nan=False, allow_infinity=False)
MONEY = st.decimals(min_value=0, max_value=200, places=2, allow_nan=False, allow_infinity=False)
RATES = st.decimals(min_value=0, max_value=30, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def entries(draw: st.DrawFn, outcome: str) -> EntrySpec:
    model = draw(st.sampled_from(["flat", "graduated", "volume", "package"]))
    if model == "flat":
        return EntrySpec(outcome, model, unit_price=draw(PRICES))
    if model == "package":
        return EntrySpec(outcome, model, package_size=draw(st.integers(1, 5)), package_price=draw(PRICES))
    bounds = sorted(set(draw(st.lists(st.integers(1, 12), max_size=3))))
    tiers: list[dict[str, Any]] = [
        {"up_to": bound, "unit_price": str(draw(PRICES)), "flat_fee": str(draw(st.sampled_from([ZERO, Decimal("2")])))}
        for bound in bounds
    ]
    tiers.append({"up_to": None, "unit_price": str(draw(PRICES))})
    return EntrySpec(outcome, model, tiers=tiers)


books = st.fixed_dictionaries({
    "tickets": entries("ticket_resolved"),
    "reviews": entries("code_review"),
    "counts": st.tuples(st.integers(0, 14), st.integers(0, 6)),
    "platform_fee": MONEY,
    "included": st.integers(0, 4),
    "minimum_commit": st.sampled_from([ZERO, Decimal("25.00"), Decimal("80.00")]),
    "prepaid": st.sampled_from([ZERO, Decimal("10.00"), Decimal("1000.00")]),
    "rates": st.lists(st.tuples(RATES, st.booleans()), max_size=3),
    "payments": st.lists(st.integers(1, 90), max_size=3),
})


@pytest.fixture
def two_types(vendor: Vendor) -> Vendor:
    OutcomeTypeFactory.create(organization=vendor.organization, code="ticket_resolved", name="Support ticket resolved")
    OutcomeTypeFactory.create(organization=vendor.organization, code="code_review", name="Code review")
    Customer.objects.filter(pk=vendor.customer.pk).update(country="DE")
    return vendor


def _play(vendor: Vendor, book: dict[str, Any]) -> None:
    customer = vendor.customer
    price_book_create(customer=customer, effective_from=OCTOBER, currency="USD",
                      entries=[book["tickets"], book["reviews"]], platform_fee=book["platform_fee"],
                      included_outcomes=book["included"], minimum_commit=book["minimum_commit"])
    if book["prepaid"]:
        credit_grant_create(customer=customer, amount=book["prepaid"], currency="USD",
                            granted_at=datetime(2026, 9, 1, tzinfo=UTC))
    for index, (percentage, inclusive) in enumerate(book["rates"]):
        TaxRate.objects.create(organization=vendor.organization, name=f"Tax {index}", country="DE",
                               percentage=percentage, inclusive=inclusive)
    tickets, reviews = book["counts"]
    post_outcomes(vendor.organization, [
        {"idempotency_key": f"{code}-{i}", "customer": "acme", "outcome": code, "task_id": f"{code}-task-{i}",
         "timestamp": at(3 + i % 20, hour=i % 24)}
        for code, count in (("ticket_resolved", tickets), ("code_review", reviews)) for i in range(count)
    ])


def _check(vendor: Vendor, book: dict[str, Any]) -> None:
    invoice = reconcile_customer(customer_id=vendor.customer.pk, period=OCTOBER)
    summary = invoice_summary(invoice)
    lines = list(InvoiceLine.objects.filter(invoice=invoice))
    # The summary adds up to the itemization, line by line of each outcome type.
    assert sum((s.amount for s in summary), ZERO) == sum((line.amount for line in lines), ZERO)
    for code in ("ticket_resolved", "code_review"):
        typed = [line for line in lines if line.outcome_type and line.outcome_type.code == code and line.note != "included"]
        line = next((s for s in summary if s.kind == SummaryKind.OUTCOME and s.description.startswith(
            "Support ticket" if code == "ticket_resolved" else "Code review")), None)
        if typed:
            assert line is not None and line.quantity == len(typed)
            assert line.amount == sum((t.amount for t in typed), ZERO) == sum((t.amount for t in line.tiers), ZERO)
        else:
            assert line is None
    included = [s for s in summary if s.kind == SummaryKind.INCLUDED]
    assert sum((s.quantity or ZERO for s in included), ZERO) == sum(1 for line in lines if line.note == "included")
    # Tax: each rate on the summary, rounded once; the total adds the exclusive ones.
    base = sum((s.amount for s in summary), ZERO)
    taxes = list(invoice.taxes.order_by("position"))
    inclusive_sum = sum((rate for rate, inclusive in book["rates"] if inclusive), ZERO)
    assert len(taxes) == len(book["rates"])
    for tax, (rate, inclusive) in zip(taxes, book["rates"], strict=True):
        divisor = Decimal(100) + inclusive_sum if inclusive else Decimal(100)
        assert tax.amount == round_money(base * rate / divisor, "USD")
        assert tax.inclusive == inclusive
    assert invoice.tax_total == sum((t.amount for t in taxes), ZERO)
    assert invoice.total == base + sum((t.amount for t in taxes if not t.inclusive), ZERO)
    # Payments: the amount due is the total less what was paid, and paid in full means paid.
    invoice = invoice_finalize(invoice=invoice)
    assert invoice.total == base + sum((t.amount for t in taxes if not t.inclusive), ZERO)
    paid = ZERO
    for index, percent in enumerate(book["payments"]):
        amount = round_money(invoice.amount_due * percent / 100, "USD")
        if amount <= 0:
            continue
        invoice = invoice_payment_record(invoice=invoice, amount=amount, paid_at=datetime(2026, 11, 5, tzinfo=UTC),
                                         source="bank_transfer", reference=f"ref-{index}")
        paid += amount
        assert invoice.amount_paid == paid
        assert invoice.amount_due == invoice.total - paid
    assert (invoice.status == "paid") == (invoice.total - paid <= 0 and paid > 0)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(book=books)
def test_summary_tax_total_and_amount_due_add_up(two_types: Vendor, book: dict[str, Any]) -> None:
    with transaction.atomic():  # each example starts from the same empty customer
        _play(two_types, book)
        _check(two_types, book)
        transaction.set_rollback(True)
