"""Price books: per customer, versioned by the period they take effect from."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max

from accounts.models import Customer
from billing.models import PriceBook, PriceBookEntry, PriceBookMeter
from billing.pricing import TIERED, PricingModel, tiers_parse
from core.errors import Conflict, DomainError
from core.money import money_check
from core.periods import Period
from metering.selectors import meter_codes
from outcomes.selectors import outcome_types_by_id


@dataclass(frozen=True)
class EntrySpec:
    outcome: str
    model: str = PricingModel.FLAT
    unit_price: Decimal | None = None
    tiers: list[dict[str, Any]] | None = None
    package_size: int | None = None
    package_price: Decimal | None = None
    assumed_price_factor: Decimal | None = None  # price by assurance (billing.pricing)

    def entry_fields(self, field: str) -> dict[str, Any]:
        """The price-book entry fields of this price, as `OutcomePrice.from_entry` reads them; refused,
        naming the part of `field` at fault, when they could not price an outcome."""
        factor = self.assumed_price_factor
        if factor is not None and not (0 <= factor <= 1 and factor == round(factor, 4)):
            raise DomainError("assumed_price_factor is a share from 0 to 1 with at most 4 decimals (0.8 = 80%).",
                              field=f"{field}.assumed_price_factor")
        return {**self._model_fields(field), "assumed_price_factor": factor}

    def _model_fields(self, field: str) -> dict[str, Any]:
        if self.model not in PricingModel.values:
            raise DomainError(f"Unknown pricing model {self.model!r}.", field=f"{field}.model")
        model = PricingModel(self.model)
        if model == PricingModel.FLAT:
            if self.unit_price is None:
                raise DomainError("A flat price needs unit_price.", field=f"{field}.unit_price")
            return {"model": model, "unit_price": self.unit_price}
        if model in TIERED:
            tiers_parse(self.tiers or [], field=f"{field}.tiers")
            return {"model": model, "tiers": self.tiers or []}
        if not self.package_size or self.package_size < 1 or self.package_price is None:
            raise DomainError("A package price needs package_size ≥ 1 and package_price.",
                              field=f"{field}.package_size")
        return {"model": model, "package_size": self.package_size, "package_price": self.package_price}


@dataclass(frozen=True)
class MeterSpec:
    meter: str
    unit_price: Decimal
    per: Decimal = Decimal(1)
    included_quantity: Decimal = Decimal(0)


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
    """A new version of a customer's price book; it prices every period from `effective_from` on.
    Its amounts (fee, commit, cap) are whole minor units; its unit prices may be finer."""
    money_check(platform_fee, currency, field="platform_fee")
    money_check(minimum_commit, currency, field="minimum_commit")
    if spend_cap is not None:
        money_check(spend_cap, currency, field="spend_cap")
    if spend_cap is not None and spend_cap < minimum_commit:
        raise DomainError("The spend cap must not be below the minimum commit.", field="spend_cap")
    organization_id = customer.organization_id
    type_ids = {t.code: pk for pk, t in outcome_types_by_id(organization_id=organization_id).items()}
    meter_ids = {code: pk for pk, code in meter_codes(organization_id=organization_id).items()}
    entry_rows = _entry_rows(entries, type_ids=type_ids)
    meter_rows = _meter_rows(meters or [], meter_ids=meter_ids)
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=customer.pk).first()  # one new version at a time
        if PriceBook.objects.filter(customer=customer, effective_from=effective_from.start).exists():
            raise Conflict(f"A version effective from {effective_from.label} exists already.", field="effective_from")
        last = PriceBook.objects.filter(customer=customer).aggregate(v=Max("version"))["v"] or 0
        book = PriceBook.objects.create(
            organization_id=organization_id, customer=customer, version=last + 1, effective_from=effective_from.start,
            currency=currency, platform_fee=platform_fee, included_outcomes=included_outcomes,
            minimum_commit=minimum_commit, spend_cap=spend_cap,
        )
        PriceBookEntry.objects.bulk_create(PriceBookEntry(price_book=book, **row) for row in entry_rows)
        PriceBookMeter.objects.bulk_create(PriceBookMeter(price_book=book, **row) for row in meter_rows)
    return book


def _entry_rows(entries: list[EntrySpec], *, type_ids: dict[str, int]) -> list[dict[str, Any]]:
    """Each entry's fields with its outcome type's id; refused, naming the entry, on a type priced twice
    or not known."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, spec in enumerate(entries):
        field = f"entries[{index}]"
        if spec.outcome in seen:
            raise DomainError(f"Outcome type {spec.outcome!r} is priced twice.", field=f"{field}.outcome")
        if spec.outcome not in type_ids:
            raise DomainError(f"Unknown outcome type {spec.outcome!r}.", field=f"{field}.outcome")
        seen.add(spec.outcome)
        rows.append({"outcome_type_id": type_ids[spec.outcome], **spec.entry_fields(field)})
    return rows


def _meter_rows(meters: list[MeterSpec], *, meter_ids: dict[str, int]) -> list[dict[str, Any]]:
    """Each meter price's fields with its meter's id; refused on a meter priced twice or not known."""
    codes = [spec.meter for spec in meters]
    if len(set(codes)) != len(codes):
        raise DomainError("A meter is priced twice.", field="meters")
    rows: list[dict[str, Any]] = []
    for index, spec in enumerate(meters):
        if spec.meter not in meter_ids:
            raise DomainError(f"Unknown meter {spec.meter!r}.", field=f"meters[{index}].meter")
        rows.append({"meter_id": meter_ids[spec.meter], "unit_price": spec.unit_price, "per": spec.per,
                     "included_quantity": spec.included_quantity})
    return rows
