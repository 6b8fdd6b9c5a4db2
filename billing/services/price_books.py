"""Price books: per customer, versioned by the period they take effect from."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max

from accounts.models import Customer
from billing.models import PriceBook, PriceBookEntry, PriceBookMeter
from billing.pricing import OutcomePrice, Tier, validate_tiers
from core.errors import Conflict, DomainError
from core.periods import Period
from metering.models import Meter
from outcomes.models import OutcomeType


@dataclass(frozen=True)
class EntrySpec:
    outcome: str
    model: str = "flat"
    unit_price: Decimal | None = None
    tiers: list[dict[str, Any]] | None = None
    package_size: int | None = None
    package_price: Decimal | None = None


@dataclass(frozen=True)
class MeterSpec:
    meter: str
    unit_price: Decimal
    per: Decimal = Decimal(1)
    included_quantity: Decimal = Decimal(0)


def tiers_parse(raw: list[dict[str, Any]], *, field: str) -> list[Tier]:
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
    return tiers


def price_book_create(
    *,
    customer: Customer,
    effective_from: Period,
    currency: str,
    entries: list[EntrySpec],
    meters: list[MeterSpec] | None = None,
    platform_fee: Decimal = Decimal(0),
    included_outcomes: int = 0,
    minimum_commit: Decimal = Decimal(0),
    spend_cap: Decimal | None = None,
) -> PriceBook:
    """A new version of a customer's price book; it prices every period from `effective_from` on."""
    seen: set[str] = set()
    for index, spec in enumerate(entries):
        if spec.outcome in seen:
            raise DomainError(f"Outcome type {spec.outcome!r} is priced twice.", field=f"entries[{index}].outcome")
        seen.add(spec.outcome)
    meter_codes = [meter.meter for meter in meters or []]
    if len(set(meter_codes)) != len(meter_codes):
        raise DomainError("A meter is priced twice.", field="meters")
    if spend_cap is not None and spend_cap < minimum_commit:
        raise DomainError("The spend cap must not be below the minimum commit.", field="spend_cap")
    types = {t.code: t for t in OutcomeType.objects.filter(organization_id=customer.organization_id)}
    known_meters = {m.code: m for m in Meter.objects.filter(organization_id=customer.organization_id)}
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        if PriceBook.objects.filter(customer=customer, effective_from=effective_from.start).exists():
            raise Conflict(f"A version effective from {effective_from.label} exists already.",
                           field="effective_from")
        last = PriceBook.objects.filter(customer=customer).aggregate(v=Max("version"))["v"] or 0
        book = PriceBook.objects.create(
            organization_id=customer.organization_id, customer=customer, version=last + 1,
            effective_from=effective_from.start, currency=currency, platform_fee=platform_fee,
            included_outcomes=included_outcomes, minimum_commit=minimum_commit, spend_cap=spend_cap,
        )
        for index, spec in enumerate(entries):
            field = f"entries[{index}]"
            outcome_type = types.get(spec.outcome)
            if outcome_type is None:
                raise DomainError(f"Unknown outcome type {spec.outcome!r}.", field=f"{field}.outcome")
            entry = PriceBookEntry(price_book=book, outcome_type=outcome_type, model=spec.model)
            if spec.model == "flat":
                if spec.unit_price is None:
                    raise DomainError("A flat price needs unit_price.", field=f"{field}.unit_price")
                entry.unit_price = spec.unit_price
            elif spec.model in {"graduated", "volume"}:
                tiers_parse(spec.tiers or [], field=f"{field}.tiers")
                entry.tiers = spec.tiers or []
            elif spec.model == "package":
                if not spec.package_size or spec.package_size < 1 or spec.package_price is None:
                    raise DomainError("A package price needs package_size ≥ 1 and package_price.",
                                      field=f"{field}.package_size")
                entry.package_size, entry.package_price = spec.package_size, spec.package_price
            else:
                raise DomainError(f"Unknown pricing model {spec.model!r}.", field=f"{field}.model")
            entry.save()
        for index, meter_spec in enumerate(meters or []):
            meter = known_meters.get(meter_spec.meter)
            if meter is None:
                raise DomainError(f"Unknown meter {meter_spec.meter!r}.", field=f"meters[{index}].meter")
            PriceBookMeter.objects.create(
                price_book=book, meter=meter, unit_price=meter_spec.unit_price, per=meter_spec.per,
                included_quantity=meter_spec.included_quantity,
            )
    return book


def price_book_in_force(*, customer_id: int, period_start: date) -> PriceBook | None:
    return (
        PriceBook.objects.filter(customer_id=customer_id, effective_from__lte=period_start)
        .prefetch_related("entries", "meter_prices")
        .order_by("-effective_from")
        .first()
    )


def outcome_prices(*, book: PriceBook | None, types: dict[int, OutcomeType]) -> dict[int, OutcomePrice]:
    """The price of every outcome type under a book; types without an entry use their default price."""
    prices = {type_id: OutcomePrice(unit_price=t.price) for type_id, t in types.items()}
    if book is None:
        return prices
    for entry in book.entries.all():
        if entry.model == "flat":
            prices[entry.outcome_type_id] = OutcomePrice(unit_price=entry.unit_price or Decimal(0))
        elif entry.model in {"graduated", "volume"}:
            tiers = tuple(tiers_parse(entry.tiers, field="tiers"))
            prices[entry.outcome_type_id] = OutcomePrice(model=entry.model, tiers=tiers)
        else:
            prices[entry.outcome_type_id] = OutcomePrice(
                model="package", package_size=entry.package_size or 1, package_price=entry.package_price or Decimal(0)
            )
    return prices
