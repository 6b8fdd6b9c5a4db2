"""Price by assurance on hand-computed fixtures: confirmed outcomes pay the price, assumed ones (verified
by silence) the entry's assumed_price_factor of it; the lines say which."""

from decimal import Decimal

import pytest

from billing.models import Invoice
from billing.pricing import OutcomePrice, PeriodCharges, PricingModel, Tier
from outcomes.verification import outcome_confirm
from tests.billing.scenario import outcomes, post_outcomes, reconcile
from tests.factories import OutcomeTypeFactory

pytestmark = pytest.mark.django_db

BOOKS = "/api/v1/customers/acme/price-books"


@pytest.fixture
def confirmable(vendor):
    """A type the window verifies at once (assumed) or the customer confirms (confirmed)."""
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("2.00"),
                              verification_methods=["window", "customer_confirmation"])
    return vendor


def _book(vendor, entry: dict, **fields) -> dict:
    body = {"effective_from": "2026-10", "currency": "USD",
            "entries": [{"outcome": "ticket_resolved", **entry}], **fields}
    answer = vendor.api.post(BOOKS, body)
    assert answer.status_code == 201, answer.content
    return answer.json()


def _confirm(vendor, *keys: str) -> None:
    for key in keys:
        outcome_confirm(organization=vendor.organization, customer_id=vendor.customer.pk, idempotency_key=key)


def _lines(invoice: Invoice) -> list[tuple[str, Decimal, Decimal, str]]:
    lines = invoice.lines.filter(kind="outcome").order_by("position")
    return [(key, unit_price, amount, note)
            for key, unit_price, amount, note in lines.values_list("outcome_event__idempotency_key", "unit_price",
                                                                   "amount", "note")]


def test_flat_price_full_when_confirmed_and_80_percent_when_assumed(confirmable) -> None:
    _book(confirmable, {"model": "flat", "unit_price": "2.00", "assumed_price_factor": "0.8"})
    post_outcomes(confirmable.organization, outcomes(confirmable.customer, 5))
    _confirm(confirmable, "o0", "o2", "o4")

    invoice = reconcile(confirmable.customer)

    # 3 confirmed × 2.00 + 2 assumed × 1.60 = 9.20
    assert invoice.total == Decimal("9.20")
    assert _lines(invoice) == [
        ("o0", Decimal("2.00"), Decimal("2.00"), "confirmed"),
        ("o1", Decimal("1.60"), Decimal("1.60"), "assumed"),
        ("o2", Decimal("2.00"), Decimal("2.00"), "confirmed"),
        ("o3", Decimal("1.60"), Decimal("1.60"), "assumed"),
        ("o4", Decimal("2.00"), Decimal("2.00"), "confirmed"),
    ]
    assert invoice.lines.get(outcome_event__idempotency_key="o1").description.endswith("(assumed)")


def test_graduated_tiers_rank_every_outcome_and_round_each_assumed_one_once(confirmable) -> None:
    _book(confirmable, {"model": "graduated", "assumed_price_factor": "0.75",
                        "tiers": [{"up_to": 2, "unit_price": "1.00"}, {"up_to": None, "unit_price": "0.50"}]})
    post_outcomes(confirmable.organization, outcomes(confirmable.customer, 4))
    _confirm(confirmable, "o0", "o3")

    invoice = reconcile(confirmable.customer)

    # o0 tier 1 confirmed 1.00; o1 tier 1 assumed 0.75; o2 tier 2 assumed 0.375 → 0.38 (half-up); o3 tier 2 0.50
    assert [(key, amount, note) for key, _, amount, note in _lines(invoice)] == [
        ("o0", Decimal("1.00"), "tier 1 · confirmed"),
        ("o1", Decimal("0.75"), "tier 1 · assumed"),
        ("o2", Decimal("0.38"), "tier 2 · assumed"),
        ("o3", Decimal("0.50"), "tier 2 · confirmed"),
    ]
    assert invoice.total == Decimal("2.63")


def test_without_an_assurance_price_assumed_outcomes_pay_in_full(confirmable) -> None:
    _book(confirmable, {"model": "flat", "unit_price": "2.00"})
    post_outcomes(confirmable.organization, outcomes(confirmable.customer, 2))
    _confirm(confirmable, "o1")

    invoice = reconcile(confirmable.customer)

    assert invoice.total == Decimal("4.00")
    assert [note for *_, note in _lines(invoice)] == ["", "confirmed"]


def test_included_outcomes_stay_free_whatever_their_assurance(confirmable) -> None:
    _book(confirmable, {"model": "flat", "unit_price": "2.00", "assumed_price_factor": "0.5"}, included_outcomes=1)
    post_outcomes(confirmable.organization, outcomes(confirmable.customer, 3))
    _confirm(confirmable, "o0")

    invoice = reconcile(confirmable.customer)

    # o0 included (free, though confirmed); o1 assumed 1.00; o2 assumed 1.00
    assert [(key, amount, note) for key, _, amount, note in _lines(invoice)] == [
        ("o0", Decimal("0"), "included"), ("o1", Decimal("1.00"), "assumed"), ("o2", Decimal("1.00"), "assumed")]
    assert invoice.total == Decimal("2.00")


def test_the_price_book_api_keeps_the_factor_and_refuses_one_over_1(confirmable) -> None:
    book = _book(confirmable, {"model": "flat", "unit_price": "2.00", "assumed_price_factor": "0.85"})
    assert book["entries"][0]["assumed_price_factor"] == "0.85"

    answer = confirmable.api.post(BOOKS, {"effective_from": "2026-11", "currency": "USD", "entries": [
        {"outcome": "ticket_resolved", "unit_price": "2", "assumed_price_factor": "1.5"}]})

    assert answer.status_code == 400
    assert "entries[0].assumed_price_factor" in answer.json()["errors"]


def test_package_price_assumed_share_falls_on_the_outcome_carrying_the_package() -> None:
    price = OutcomePrice(model=PricingModel.PACKAGE, package_size=2, package_price=Decimal("3.00"),
                         assumed_factor=Decimal("0.9"))
    charges = PeriodCharges(currency="USD")
    assert charges.price_outcome(1, price, 4, confirmed=False) == (Decimal("2.70"), Decimal("1.35"),
                                                                    "package 1 · assumed")
    assert charges.price_outcome(1, price, 4, confirmed=True)[0] == Decimal("0.00")
    assert charges.price_outcome(1, price, 4, confirmed=True)[:1] == (Decimal("3.00"),)


def test_the_spend_cap_applies_after_the_assurance_price() -> None:
    price = OutcomePrice(model=PricingModel.GRADUATED, tiers=(Tier(None, Decimal("1.00")),),
                         assumed_factor=Decimal("0.6"))
    charges = PeriodCharges(currency="EUR", spend_cap=Decimal("1.00"))
    assert charges.price_outcome(1, price, 2, confirmed=False)[0] == Decimal("0.60")
    assert charges.price_outcome(1, price, 2, confirmed=True) == (Decimal("0.40"), Decimal("1.00"),
                                                                   "charged up to the spend cap")
