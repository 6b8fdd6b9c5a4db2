"""Price books through the API and reconciliation: versions, tiers, caps, commits, credits, currencies."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import CreditLedgerEntry, Invoice, Notification, PriceBookEntry
from billing.pricing import OutcomePrice, PricingModel, Tier
from billing.services.finalize import invoice_finalize
from billing.services.price_books import EntrySpec
from billing.services.wallet import credit_grant_create, credits_expire
from core.errors import DomainError
from tests.billing.scenario import NOVEMBER, OCTOBER, outcomes, post_outcomes, post_usage, reconcile
from tests.factories import CustomerFactory, MeterFactory, OutcomeTypeFactory

pytestmark = pytest.mark.django_db

BOOKS = "/api/v1/customers/acme/price-books"


@pytest.fixture
def priced(vendor):
    OutcomeTypeFactory.create(organization=vendor.organization, code="ticket_resolved", price=Decimal("1.00"))
    OutcomeTypeFactory.create(organization=vendor.organization, code="code_review", name="Code review",
                       price=Decimal("5.00"))
    return vendor


def book(vendor, **fields) -> dict:
    body = {"effective_from": "2026-10", "currency": "USD", "entries": []}
    body.update(fields)
    response = vendor.api.post(BOOKS, body)
    assert response.status_code == 201, response.content
    return response.json()


def amounts(invoice: Invoice) -> list[tuple[str, Decimal]]:
    return [(line.kind, line.amount) for line in invoice.lines.order_by("position")]


def test_period_is_priced_by_the_version_in_force(priced) -> None:
    first = book(priced, entries=[{"outcome": "ticket_resolved", "model": "flat", "unit_price": "0.90"}])
    second = book(priced, effective_from="2026-11",
                  entries=[{"outcome": "ticket_resolved", "model": "flat", "unit_price": "0.80"}])
    assert (first["version"], second["version"]) == (1, 2)
    post_outcomes(priced.organization, outcomes(priced.customer, 2) + outcomes(priced.customer, 3, month=11,
                                                                                 day=2, prefix="n"))
    assert reconcile(priced.customer).total == Decimal("1.80")
    november = reconcile(priced.customer, NOVEMBER)
    assert november.total == Decimal("2.40")
    assert november.price_book is not None and november.price_book.version == 2


def test_a_second_version_for_the_same_month_is_a_conflict(priced) -> None:
    book(priced, entries=[{"outcome": "ticket_resolved", "model": "flat", "unit_price": "0.90"}])

    again = priced.api.post(BOOKS, {"effective_from": "2026-10", "currency": "USD", "entries": []})

    assert again.status_code == 409, again.content
    assert again.json()["code"] == "conflict" and "effective_from" in again.json()["errors"]


def test_graduated_tiers_included_outcomes_and_platform_fee(priced) -> None:
    book(priced, included_outcomes=2, platform_fee="99", entries=[{
        "outcome": "ticket_resolved", "model": "graduated",
        "tiers": [{"up_to": 3, "unit_price": "1.00"}, {"up_to": None, "unit_price": "0.50", "flat_fee": "10"}],
    }])
    post_outcomes(priced.organization, outcomes(priced.customer, 7))
    invoice = reconcile(priced.customer)
    # 2 included, then ranks 1-3 at 1.00, rank 4 at 0.50 + 10 flat fee, rank 5 at 0.50, then the fee
    assert [a for _, a in amounts(invoice)] == [Decimal(x) for x in
                                                 ["0", "0", "1.00", "1.00", "1.00", "10.50", "0.50", "99.00"]]
    assert invoice.total == sum((a for _, a in amounts(invoice)), Decimal(0)) == Decimal("113.00")


def test_volume_and_package_pricing(priced) -> None:
    book(priced, entries=[
        {"outcome": "ticket_resolved", "model": "volume",
         "tiers": [{"up_to": 5, "unit_price": "1.00"}, {"up_to": None, "unit_price": "0.70"}]},
        {"outcome": "code_review", "model": "package", "package_size": 3, "package_price": "12.00"},
    ])
    post_outcomes(priced.organization, outcomes(priced.customer, 6)
                  + outcomes(priced.customer, 4, outcome="code_review", prefix="cr"))
    invoice = reconcile(priced.customer)
    by_outcome: dict[str, list[Decimal]] = {}
    for line in invoice.lines.select_related("outcome_type"):
        assert line.outcome_type is not None
        by_outcome.setdefault(line.outcome_type.code, []).append(line.amount)
    assert by_outcome["ticket_resolved"] == [Decimal("0.70")] * 6
    assert sorted(by_outcome["code_review"]) == [Decimal(0), Decimal(0), Decimal("12.00"), Decimal("12.00")]


def test_spend_cap_stops_charges_and_alerts_once_per_threshold(priced) -> None:
    book(priced, spend_cap="4.50", entries=[{"outcome": "ticket_resolved", "model": "flat", "unit_price": "1.00"}])
    post_outcomes(priced.organization, outcomes(priced.customer, 7))
    invoice = reconcile(priced.customer)
    assert [a for _, a in amounts(invoice)] == [Decimal(x) for x in ["1", "1", "1", "1", "0.5", "0", "0"]]
    assert invoice.lines.count() == 7, "outcomes past the cap are recorded, not charged"
    reconcile(priced.customer)
    kinds = sorted(Notification.objects.values_list("kind", flat=True))
    assert kinds == ["spend_cap_100", "spend_cap_50", "spend_cap_80"]
    listed = priced.api.get("/api/v1/notifications", customer="acme").json()
    assert {n["kind"] for n in listed} == set(kinds)


def test_minimum_commit_true_up(priced) -> None:
    book(priced, minimum_commit="10", entries=[{"outcome": "ticket_resolved", "model": "flat", "unit_price": "1.25"}])
    post_outcomes(priced.organization, outcomes(priced.customer, 3))
    invoice = reconcile(priced.customer)
    assert amounts(invoice)[-1] == ("minimum_commit", Decimal("6.25"))
    assert invoice.total == Decimal("10.00")


def test_usage_overage_for_hybrid_plans(priced) -> None:
    MeterFactory.create(organization=priced.organization, code="gpu_seconds", name="GPU seconds", unit="second")
    book(priced, meters=[{"meter": "gpu_seconds", "unit_price": "2.99", "per": "3600", "included_quantity": "3600"}])
    post_usage(priced.organization, [
        {"idempotency_key": f"g{i}", "customer": "acme", "meter": "gpu_seconds", "quantity": "3600",
         "timestamp": "2026-10-03T00:00:00Z"} for i in range(3)
    ])
    invoice = reconcile(priced.customer)
    line = invoice.lines.get()
    assert (line.kind, line.quantity, line.amount) == ("usage_overage", Decimal(7200), Decimal("5.98"))


def test_prepaid_credits_draw_down_in_order_and_expire(priced) -> None:
    book(priced, entries=[{"outcome": "ticket_resolved", "model": "flat", "unit_price": "3.00"}])
    post_outcomes(priced.organization, outcomes(priced.customer, 4))
    granted = datetime(2026, 9, 1, tzinfo=UTC)
    late = credit_grant_create(customer=priced.customer, amount=Decimal("10"), currency="USD", granted_at=granted,
                               priority=100)
    first = credit_grant_create(customer=priced.customer, amount=Decimal("5"), currency="USD", granted_at=granted,
                                priority=1, expires_at=datetime(2027, 1, 1, tzinfo=UTC))
    invoice = invoice_finalize(invoice=reconcile(priced.customer))
    assert (invoice.subtotal, invoice.credits_applied, invoice.total) == (Decimal(12), Decimal(12), Decimal(0))
    drawn = dict(CreditLedgerEntry.objects.filter(kind="drawdown").values_list("grant_id", "amount"))
    assert drawn == {first.pk: Decimal("-5"), late.pk: Decimal("-7")}
    wallet = priced.api.get("/api/v1/customers/acme/wallet").json()
    assert wallet["balance"] == "3.00"

    expiring = credit_grant_create(customer=priced.customer, amount=Decimal("8"), currency="USD",
                                   granted_at=granted, expires_at=datetime(2026, 10, 15, tzinfo=UTC))
    assert credits_expire(now=datetime(2026, 11, 1, tzinfo=UTC)) >= 1
    assert credits_expire(now=datetime(2026, 11, 1, tzinfo=UTC)) == 0
    assert sum(e.amount for e in expiring.entries.all()) == 0


@pytest.mark.parametrize(("currency", "price", "expected"), [("JPY", "99.5", "100"), ("KWD", "0.1235", "0.124"),
                                                             ("USD", "0.125", "0.13")])
def test_lines_round_once_to_the_currency_minor_unit(vendor, currency, price, expected) -> None:
    customer = CustomerFactory.create(organization=vendor.organization, external_id=f"c-{currency}", currency=currency)
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal(price), currency=currency)
    post_outcomes(vendor.organization, outcomes(customer, 2))
    invoice = reconcile(customer)
    assert [line.amount for line in invoice.lines.all()] == [Decimal(expected)] * 2
    api_invoice = vendor.api.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert api_invoice["total"] == str(Decimal(expected) * 2)
    assert api_invoice["currency"] == currency


def test_bad_price_books_name_the_field(priced) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"effective_from": "2026-13"}, "effective_from"),
        ({"currency": "XXX1"}, "currency"),
        ({"entries": [{"outcome": "nope", "model": "flat", "unit_price": "1"}]}, "entries[0].outcome"),
        ({"entries": [{"outcome": "ticket_resolved", "model": "graduated",
                       "tiers": [{"up_to": 5, "unit_price": "1"}, {"up_to": 3, "unit_price": "1"}]}]},
         "entries[0].tiers"),
        ({"entries": [{"outcome": "ticket_resolved", "model": "flat"}]}, "entries[0].unit_price"),
        ({"spend_cap": "5", "minimum_commit": "10"}, "spend_cap"),
        ({"platform_fee": 5.5}, "platform_fee"),
    ]
    for fields, field in cases:
        body: dict[str, object] = {"effective_from": "2026-10", "currency": "USD", "entries": [], **fields}
        response = priced.api.post(BOOKS, body)
        assert response.status_code == 400, (fields, response.content)
        errors = response.json()["errors"]
        assert field in errors or field.split(".")[0].split("[")[0] in errors, (field, errors)


def test_another_organization_cannot_read_or_write_our_books(priced, stranger) -> None:
    book(priced, entries=[{"outcome": "ticket_resolved", "model": "flat", "unit_price": "0.90"}])
    assert stranger.api.get(BOOKS).json() == []  # the stranger's own "acme"
    assert stranger.api.get("/api/v1/customers/globex/price-books").status_code == 404


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    unit=st.decimals(min_value=0, max_value=50, places=3),
    count=st.integers(0, 30),
    included=st.integers(0, 5),
    fee=st.decimals(min_value=0, max_value=100, places=2),
    commit=st.decimals(min_value=0, max_value=200, places=2),
    cap=st.one_of(st.none(), st.decimals(min_value=200, max_value=400, places=2)),
    credit=st.decimals(min_value=0, max_value=300, places=2),
)
def test_invoice_total_is_the_sum_of_its_lines(priced, unit, count, included, fee, commit, cap, credit) -> None:
    customer = CustomerFactory.create(organization=priced.organization)  # a fresh customer per example
    response = priced.api.post(f"/api/v1/customers/{customer.external_id}/price-books", {
        "effective_from": "2026-10", "currency": "USD", "included_outcomes": included, "platform_fee": str(fee),
        "minimum_commit": str(commit), "spend_cap": None if cap is None else str(cap),
        "entries": [{"outcome": "ticket_resolved", "model": "flat", "unit_price": str(unit)}],
    })
    assert response.status_code == 201, response.content
    if credit:
        credit_grant_create(customer=customer, amount=credit, currency="USD",
                            granted_at=datetime(2026, 1, 1, tzinfo=UTC))
    post_outcomes(priced.organization, outcomes(customer, count, prefix=f"{customer.external_id}-"))
    invoice = reconcile(customer)
    lines = list(invoice.lines.all())
    assert invoice.total == sum((line.amount for line in lines), Decimal(0))
    assert all(line.amount == line.amount.quantize(Decimal("0.01")) for line in lines)
    charged = sum((line.amount for line in lines if line.kind in {"outcome", "usage_overage"}), Decimal(0))
    if cap is not None:
        assert charged <= cap
    assert invoice.subtotal >= commit + fee
    assert invoice.total == max(invoice.subtotal - credit, Decimal(0))
    assert invoice.total == invoice.subtotal - invoice.credits_applied


def test_price_book_for_october_ignored_for_september(priced) -> None:
    book(priced, entries=[{"outcome": "ticket_resolved", "model": "flat", "unit_price": "0.10"}])
    post_outcomes(priced.organization, outcomes(priced.customer, 1, month=9))
    september = reconcile(priced.customer, OCTOBER.previous())
    assert september.total == Decimal("1.00"), "no book in force: the outcome type's default price"


@pytest.mark.parametrize(("spec", "price"), [
    (EntrySpec(outcome="t", unit_price=Decimal("0.90")), OutcomePrice(unit_price=Decimal("0.90"))),
    (EntrySpec(outcome="t", model="graduated", tiers=[{"up_to": 3, "unit_price": "1"}, {"up_to": None,
                                                                                     "unit_price": "0.5"}]),
     OutcomePrice(model=PricingModel.GRADUATED, tiers=(Tier(3, Decimal(1)), Tier(None, Decimal("0.5"))))),
    (EntrySpec(outcome="t", model="volume", tiers=[{"up_to": None, "unit_price": "2", "flat_fee": "10"}]),
     OutcomePrice(model=PricingModel.VOLUME, tiers=(Tier(None, Decimal(2), Decimal(10)),))),
    (EntrySpec(outcome="t", model="package", package_size=10, package_price=Decimal(20)),
     OutcomePrice(model=PricingModel.PACKAGE, package_size=10, package_price=Decimal(20))),
])
def test_an_entry_prices_outcomes_as_its_spec_said(spec: EntrySpec, price: OutcomePrice) -> None:
    assert OutcomePrice.from_entry(PriceBookEntry(**spec.entry_fields("entries[0]"))) == price


@pytest.mark.parametrize(("spec", "field"), [
    (EntrySpec(outcome="t", model="tiered"), "entries[0].model"),
    (EntrySpec(outcome="t", model="volume", tiers=[]), "entries[0].tiers"),
    (EntrySpec(outcome="t", model="package", package_size=0, package_price=Decimal(1)), "entries[0].package_size"),
])
def test_an_entry_that_could_not_price_an_outcome_is_refused(spec: EntrySpec, field: str) -> None:
    with pytest.raises(DomainError) as refused:
        spec.entry_fields("entries[0]")

    assert refused.value.field == field
