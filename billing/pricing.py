"""Pricing arithmetic: pure functions over Decimal, no database. Rounding happens in `charge` only.

Rules (documented in the README):
- Outcomes of one period are priced in time order. Included outcomes are the first ones of the
  period and cost nothing; they do not count toward tiers.
- flat: every outcome costs unit_price. graduated: the k-th charged outcome of a type costs the
  unit price of the tier that holds k, and the first outcome entering a tier carries its flat fee.
  volume: every outcome costs the unit price of the tier that holds the period's count of that
  type; the first carries the tier's flat fee. package: every `package_size` outcomes cost
  `package_price`, carried by the first outcome of each package.
- The spend cap is hard: once outcome and usage charges of a period reach it, further outcomes are
  recorded at zero, and the outcome that crosses it is charged only up to the cap.
- Price by assurance: an entry with `assumed_price_factor` charges an outcome that no evidence
  confirmed by the cutoff (assumed: verified by its window's silence) that share of what it would
  cost confirmed, tiers, packages and fees included; it still takes its rank in the tiers. Its line's
  note says "assumed"; a confirmed outcome's says "confirmed" (included ones stay "included").
- A line's amount is computed exactly, then rounded once, half-up, to the currency's minor unit.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billing.models import PriceBookEntry
from core.errors import DomainError
from core.money import round_money

ZERO = Decimal(0)
PricingModel = PriceBookEntry.Model
TIERED = frozenset({PricingModel.GRADUATED, PricingModel.VOLUME})


@dataclass(frozen=True)
class Tier:
    up_to: int | None  # inclusive upper rank; None: no upper bound
    unit_price: Decimal
    flat_fee: Decimal = ZERO


@dataclass(frozen=True)
class OutcomePrice:
    model: PricingModel = PricingModel.FLAT
    unit_price: Decimal = ZERO
    tiers: tuple[Tier, ...] = ()
    package_size: int = 1
    package_price: Decimal = ZERO
    assumed_factor: Decimal | None = None  # price by assurance: the share an assumed outcome pays

    @classmethod
    def from_entry(cls, entry: PriceBookEntry) -> "OutcomePrice":
        """The price a price-book entry charges: it reads the fields `EntrySpec.entry_fields` writes."""
        model = PricingModel(entry.model)
        factor = entry.assumed_price_factor
        if model == PricingModel.FLAT:
            return cls(unit_price=entry.unit_price or ZERO, assumed_factor=factor)
        if model in TIERED:
            return cls(model=model, tiers=tiers_parse(entry.tiers, field="tiers"), assumed_factor=factor)
        return cls(model=model, package_size=entry.package_size or 1, package_price=entry.package_price or ZERO,
                   assumed_factor=factor)

    def assured(self, exact: Decimal, unit_price: Decimal, note: str, *, confirmed: bool
                ) -> tuple[Decimal, Decimal, str]:
        """(amount, unit price, note) once the outcome's assurance is applied (exact, not yet rounded)."""
        if confirmed:
            return exact, unit_price, _joined(note, "confirmed")
        if self.assumed_factor is None:
            return exact, unit_price, note
        return exact * self.assumed_factor, unit_price * self.assumed_factor, _joined(note, "assumed")

    def tier_index(self, rank: int) -> int:
        for index, tier in enumerate(self.tiers):
            if tier.up_to is None or rank <= tier.up_to:
                return index
        return len(self.tiers) - 1

    def exact_amount(self, rank: int, period_count: int) -> tuple[Decimal, Decimal, str]:
        """(amount, unit price, note) of the outcome ranked `rank` (1-based) of `period_count` charged."""
        if self.model == PricingModel.FLAT:
            return self.unit_price, self.unit_price, ""
        if self.model == PricingModel.GRADUATED:
            index = self.tier_index(rank)
            tier = self.tiers[index]
            first_rank = 1 if index == 0 else (self.tiers[index - 1].up_to or 0) + 1
            fee = tier.flat_fee if rank == first_rank else ZERO
            return tier.unit_price + fee, tier.unit_price, f"tier {index + 1}"
        if self.model == PricingModel.VOLUME:
            index = self.tier_index(period_count)
            tier = self.tiers[index]
            fee = tier.flat_fee if rank == 1 else ZERO
            return tier.unit_price + fee, tier.unit_price, f"volume tier {index + 1}"
        if self.model == PricingModel.PACKAGE:
            starts_package = (rank - 1) % self.package_size == 0
            package = (rank - 1) // self.package_size + 1
            amount = self.package_price if starts_package else ZERO
            return amount, self.package_price / self.package_size, f"package {package}"
        raise ValueError(f"unknown pricing model {self.model!r}")


def _joined(note: str, assurance: str) -> str:
    return f"{note} · {assurance}" if note else assurance


def tiers_parse(raw: list[dict[str, Any]], *, field: str) -> tuple[Tier, ...]:
    """Tiers as stored (`[{"up_to": 100, "unit_price": "1.00", "flat_fee": "0"}, ...]`), validated."""
    try:
        tiers = [
            Tier(
                up_to=None if item.get("up_to") is None else int(item["up_to"]),
                unit_price=Decimal(str(item["unit_price"])),
                flat_fee=Decimal(str(item.get("flat_fee") or 0)),
            )
            for item in raw
        ]
        validate_tiers(tiers)
    except (KeyError, TypeError, ArithmeticError, ValueError) as exc:
        raise DomainError(f"Invalid tiers: {exc}", field=field) from exc
    return tuple(tiers)


def validate_tiers(tiers: list[Tier]) -> None:
    if not tiers:
        raise ValueError("at least one tier is needed")
    previous = 0
    for index, tier in enumerate(tiers):
        last = index == len(tiers) - 1
        if tier.up_to is None and not last:
            raise ValueError("only the last tier may be open-ended (up_to null)")
        if tier.up_to is not None and tier.up_to <= previous:
            raise ValueError("tier bounds must increase")
        if tier.unit_price < 0 or tier.flat_fee < 0:
            raise ValueError("tier prices must not be negative")
        previous = tier.up_to or previous
    if tiers[-1].up_to is not None:
        raise ValueError("the last tier must be open-ended (up_to null)")


@dataclass
class PeriodCharges:
    """Running state of one service period's charges: ranks per outcome type, included used, cap."""

    currency: str
    included: int = 0
    spend_cap: Decimal | None = None
    included_used: int = 0
    charged: Decimal = ZERO  # rounded outcome and usage charges so far
    ranks: dict[int, int] = field(default_factory=dict)

    def charge(self, exact: Decimal) -> tuple[Decimal, bool]:
        """Round `exact` once and apply the cap; returns (amount, capped)."""
        amount = round_money(exact, self.currency)
        capped = False
        if self.spend_cap is not None and self.charged + amount > self.spend_cap:
            amount = max(self.spend_cap - self.charged, ZERO)
            capped = True
        self.charged += amount
        return amount, capped

    def price_outcome(self, type_id: int, price: OutcomePrice, period_count: int, confirmed: bool = False
                      ) -> tuple[Decimal, Decimal, str]:
        """(amount, unit price, note) for the next outcome of a type in this period; `confirmed`: evidence
        confirmed it by the cutoff (else it is assumed, and an assurance price charges it less)."""
        if self.included_used < self.included:
            self.included_used += 1
            return ZERO, ZERO, "included"
        rank = self.ranks.get(type_id, 0) + 1
        self.ranks[type_id] = rank
        exact, unit_price, note = price.assured(*price.exact_amount(rank, period_count), confirmed=confirmed)
        amount, capped = self.charge(exact)
        if capped:
            note = "spend cap reached" if amount == 0 else "charged up to the spend cap"
        return amount, unit_price, note

    def price_usage(self, *, quantity: Decimal, included: Decimal, unit_price: Decimal, per: Decimal
                    ) -> tuple[Decimal, Decimal, bool]:
        """(billable quantity, amount, capped) of a meter's usage overage."""
        billable = max(quantity - included, ZERO)
        amount, capped = self.charge(billable * unit_price / per)
        return billable, amount, capped


def commit_true_up(*, minimum_commit: Decimal, charged: Decimal, currency: str) -> Decimal:
    """What tops a period's outcome and usage charges up to its minimum commit (zero if reached)."""
    return round_money(max(minimum_commit - charged, ZERO), currency)


def prepaid_drawdown(*, balances: list[Decimal], total: Decimal) -> list[Decimal]:
    """How much each grant (in drawdown order) pays of `total`; never more than a grant's balance."""
    remaining = max(total, ZERO)
    taken = []
    for balance in balances:
        take = min(balance, remaining) if balance > 0 else ZERO
        taken.append(take)
        remaining -= take
    return taken
