"""The pricing simulator: what a customer would have paid, and what the vendor would have kept, under
other pricing, recomputed from the stored events and configuration. It reads only: no invoice, report
or event is written.

Scenarios, per customer and period:
- `price_book`: a price book (the customer's own book in force by default, or one given), priced by
  billing's own pricing (billing.pricing: PeriodCharges, OutcomePrice, commit_true_up; assurance prices
  included: an outcome confirmed by the cutoff pays the price, an assumed one the entry's share) over the
  outcomes the period's invoice saw (as of its cutoff), so the customer's own book reproduces its invoice.
- `tokens`: per-token pricing: the period's cost to serve × (1 + markup).
- `hybrid`: a platform fee + the book's outcome prices × a factor + usage overage per meter.
Each with the customer's value delivered (baselines in force, else estimates), ROI and the effective
price per outcome.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import timezone

from accounts.models import Customer, Organization
from billing.models import Invoice
from billing.pricing import OutcomePrice, PeriodCharges, PricingModel, Tier, commit_true_up, tiers_parse
from billing.selectors.account import outcome_prices, price_book_in_force
from core.errors import DomainError
from core.money import round_money
from core.periods import Period
from metering.selectors import meter_codes, task_costs
from metering.usage_totals import usage_totals
from outcomes.history import outcomes_standing_at
from outcomes.selectors import outcome_types_by_id
from value.selectors.baselines import unit_values

ZERO = Decimal(0)
MAX_PERIODS = 12


@dataclass(frozen=True)
class MeterPrice:
    meter_id: int
    unit_price: Decimal
    per: Decimal = Decimal(1)
    included_quantity: Decimal = ZERO


@dataclass(frozen=True)
class Plan:
    """A price book's terms, as pricing reads them: saved books and what-if ones alike."""

    prices: dict[int, OutcomePrice] = field(default_factory=dict)  # by outcome type id; others: type default
    platform_fee: Decimal = ZERO
    included_outcomes: int = 0
    minimum_commit: Decimal = ZERO
    spend_cap: Decimal | None = None
    meters: tuple[MeterPrice, ...] = ()


@dataclass(frozen=True)
class HybridSpec:
    platform_fee: Decimal = ZERO
    outcome_price_factor: Decimal = Decimal("0.5")
    meters: tuple[MeterPrice, ...] = ()


@dataclass(frozen=True)
class SimulationSpec:
    periods: list[Period]
    customers: list[Customer]
    token_markup: Decimal = Decimal("0.5")
    price_book: Plan | None = None  # None: each customer's own book in force
    hybrid: HybridSpec = field(default_factory=HybridSpec)


@dataclass
class ScenarioFigures:
    paid: Decimal = ZERO
    cost_to_serve: Decimal = ZERO
    outcomes: int = 0
    value_delivered: Decimal = ZERO

    @property
    def margin(self) -> Decimal:
        return self.paid - self.cost_to_serve

    def as_dict(self, currency: str) -> dict[str, Any]:
        paid = round_money(self.paid, currency)
        cost = round_money(self.cost_to_serve, currency)
        value = round_money(self.value_delivered, currency)
        return {
            "paid": paid, "cost_to_serve": cost, "margin": paid - cost,
            "margin_rate": ((paid - cost) / paid).quantize(Decimal("0.0001"), ROUND_HALF_UP) if paid else None,
            "outcomes": self.outcomes, "value_delivered": value,
            "roi": (value / paid).quantize(Decimal("0.0001"), ROUND_HALF_UP) if paid else None,
            "effective_price_per_outcome": round_money(paid / self.outcomes, currency) if self.outcomes else None,
        }


SCENARIOS = ("price_book", "tokens", "hybrid")


@dataclass
class PeriodResult:
    customer: str
    period: str
    currency: str
    scenarios: dict[str, ScenarioFigures]
    invoiced: Decimal | None  # what the period's own invoice charged (its own-period lines, prepaid excluded)


def _scaled(price: OutcomePrice, factor: Decimal) -> OutcomePrice:
    return replace(price, unit_price=price.unit_price * factor, package_price=price.package_price * factor,
                   tiers=tuple(Tier(t.up_to, t.unit_price * factor, t.flat_fee * factor) for t in price.tiers))


def plan_charges(*, plan: Plan, currency: str, outcomes: list[Any], usage: dict[int, Decimal],
                 meter_order: dict[int, str]) -> Decimal:
    """What `plan` charges for a period's outcomes (in time order) and usage: billing's own arithmetic,
    in the order reconciliation applies it (outcomes, usage overage, minimum commit, platform fee)."""
    charges = PeriodCharges(currency=currency, included=plan.included_outcomes, spend_cap=plan.spend_cap)
    counts: Counter[int] = Counter(o.outcome_type_id for o in outcomes[plan.included_outcomes:])
    total = ZERO
    for outcome in outcomes:
        amount, _, _ = charges.price_outcome(outcome.outcome_type_id, plan.prices[outcome.outcome_type_id],
                                             counts[outcome.outcome_type_id], outcome.confirmed)
        total += amount
    for meter in sorted(plan.meters, key=lambda m: meter_order.get(m.meter_id, "")):
        _, amount, _ = charges.price_usage(quantity=usage.get(meter.meter_id, ZERO), included=meter.included_quantity,
                                           unit_price=meter.unit_price, per=meter.per)
        total += amount
    if plan.minimum_commit > 0:
        total += commit_true_up(minimum_commit=plan.minimum_commit, charged=charges.charged, currency=currency)
    if plan.platform_fee > 0:
        total += round_money(plan.platform_fee, currency)
    return total


def _book_plan(book: Any, types: dict[int, Any]) -> Plan:
    meters = tuple(MeterPrice(m.meter_id, m.unit_price, m.per, m.included_quantity) for m in book.meter_prices.all()) \
        if book else ()
    return Plan(
        prices=outcome_prices(book=book, types=types),
        platform_fee=book.platform_fee if book else ZERO, included_outcomes=book.included_outcomes if book else 0,
        minimum_commit=book.minimum_commit if book else ZERO, spend_cap=book.spend_cap if book else None,
        meters=meters,
    )


def simulate(*, organization: Organization, spec: SimulationSpec, now: datetime | None = None) -> list[PeriodResult]:
    """Every (customer, period) of the spec under each scenario. Reads events and configuration only."""
    if not spec.periods or len(spec.periods) > MAX_PERIODS:
        raise DomainError(f"Give 1 to {MAX_PERIODS} periods.", field="periods")
    now = now or timezone.now()
    types = outcome_types_by_id(organization_id=organization.pk)
    meter_order = meter_codes(organization_id=organization.pk)
    results = []
    for customer in spec.customers:
        invoices = {i.period_start: i for i in Invoice.objects.filter(customer=customer, period_start__in=[
            p.start for p in spec.periods]).exclude(status=Invoice.Status.VOID)}
        for period in spec.periods:
            if period.start_at > now:
                raise DomainError(f"{period.label} has not started.", field="periods")
            invoice = invoices.get(period.start)
            cutoff = invoice.cutoff if invoice is not None else now
            book = price_book_in_force(customer_id=customer.pk, period_start=period.start)
            currency = book.currency if book else customer.currency
            outcomes = outcomes_standing_at(organization_id=organization.pk, customer_id=customer.pk,
                                            start=period.start_at, end=period.end_at, cutoff=cutoff)
            usage = usage_totals(customer_id=customer.pk, start=period.start_at, end=period.end_at, cutoff=cutoff)
            cost_rows = task_costs(organization_id=organization.pk, customer_id=customer.pk, start=period.start_at,
                                   end=period.end_at, cutoff=cutoff)
            by_currency: dict[str | None, Decimal] = defaultdict(Decimal)
            for row in cost_rows:
                by_currency[row.currency] += row.cost
            cost = by_currency.get(currency, ZERO)
            own = _book_plan(book, types)
            chosen = own if spec.price_book is None else replace(
                spec.price_book, prices={**outcome_prices(book=None, types=types), **spec.price_book.prices})
            hybrid = Plan(prices={k: _scaled(p, spec.hybrid.outcome_price_factor) for k, p in own.prices.items()},
                          platform_fee=spec.hybrid.platform_fee, meters=spec.hybrid.meters)
            counts = Counter(o.outcome_type_id for o in outcomes)
            units = unit_values(customer_id=customer.pk, period_start=period.start, currency=currency,
                                estimates={type_id: t.value for type_id, t in types.items()})
            value = sum((units[type_id][0] * count for type_id, count in counts.items()), ZERO)

            def figures(paid: Decimal, cost: Decimal = cost, count: int = len(outcomes), value: Decimal = value
                        ) -> ScenarioFigures:
                return ScenarioFigures(paid=paid, cost_to_serve=cost, outcomes=count, value_delivered=value)

            scenarios = {
                "price_book": figures(plan_charges(plan=chosen, currency=currency, outcomes=outcomes, usage=usage,
                                                   meter_order=meter_order)),
                "tokens": figures(round_money(cost * (1 + spec.token_markup), currency)),
                "hybrid": figures(plan_charges(plan=hybrid, currency=currency, outcomes=outcomes, usage=usage,
                                               meter_order=meter_order)),
            }
            invoiced = None
            if invoice is not None:
                invoiced = sum((line.amount for line in invoice.lines.all()
                                if line.service_period_start == period.start and line.kind != "prepaid_credit"), ZERO)
            results.append(PeriodResult(customer.external_id, period.label, currency, scenarios, invoiced))
    return results


def plan_from_input(*, organization: Organization, data: dict[str, Any]) -> Plan:
    """A what-if price book from the API's or the page's input (outcome codes, meter codes)."""
    types = {t.code: t for t in outcome_types_by_id(organization_id=organization.pk).values()}
    meters = {code: meter_id for meter_id, code in meter_codes(organization_id=organization.pk).items()}
    prices: dict[int, OutcomePrice] = {}
    for index, entry in enumerate(data.get("entries", [])):
        outcome = types.get(entry["outcome"])
        if outcome is None:
            raise DomainError(f"No outcome type {entry['outcome']!r}.", field=f"price_book.entries[{index}].outcome")
        model, factor = entry.get("model", "flat"), entry.get("assumed_price_factor")
        if factor is not None and not ZERO <= factor <= 1:
            raise DomainError("A share from 0 to 1.", field=f"price_book.entries[{index}].assumed_price_factor")
        if model == "flat":
            prices[outcome.pk] = OutcomePrice(unit_price=entry.get("unit_price") or ZERO, assumed_factor=factor)
        elif model in ("graduated", "volume"):
            tiers = [{"up_to": t.get("up_to"), "unit_price": str(t["unit_price"]),
                      "flat_fee": str(t.get("flat_fee", 0))} for t in entry.get("tiers", [])]
            prices[outcome.pk] = OutcomePrice(model=PricingModel(model), assumed_factor=factor,
                                              tiers=tiers_parse(tiers, field=f"price_book.entries[{index}].tiers"))
        else:
            prices[outcome.pk] = OutcomePrice(model=PricingModel(model), package_size=entry.get("package_size") or 1,
                                              package_price=entry.get("package_price") or ZERO, assumed_factor=factor)
    return Plan(
        prices=prices, platform_fee=data.get("platform_fee", ZERO), included_outcomes=data.get("included_outcomes", 0),
        minimum_commit=data.get("minimum_commit", ZERO), spend_cap=data.get("spend_cap"),
        meters=meter_prices_from_input(meters, data.get("meters", []), field="price_book.meters"),
    )


def meter_prices_from_input(meters: dict[str, int], items: list[dict[str, Any]], *, field: str
                            ) -> tuple[MeterPrice, ...]:
    found = []
    for index, item in enumerate(items):
        if item["meter"] not in meters:
            raise DomainError(f"No meter {item['meter']!r}.", field=f"{field}[{index}].meter")
        found.append(MeterPrice(meters[item["meter"]], item["unit_price"], item.get("per") or Decimal(1),
                                item.get("included_quantity") or ZERO))
    return tuple(found)
