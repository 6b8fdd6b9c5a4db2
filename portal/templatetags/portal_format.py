"""Display of money, costs and ratios: rounding here is for reading only, never stored."""

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.db import models

from billing.models import InvoiceLine, PriceBookEntry
from core.money import minor_unit, round_money

register = template.Library()

DASH = "—"


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def money(value: object, currency: str | None = None) -> str:
    """`1234.5|money:"USD"` → `1,234.50 USD`, rounded to the currency's minor unit."""
    amount = _decimal(value)
    if amount is None:
        return DASH
    if not currency:
        return f"{amount:,}"
    try:
        amount = round_money(amount, currency)
    except ValueError:
        pass
    return f"{amount:,} {currency}"


@register.filter
def cost(value: object, currency: str | None = None) -> str:
    """Costs to serve are often fractions of a cent: four decimals, so a task's cost is not shown as 0.00."""
    amount = _decimal(value)
    if amount is None:
        return DASH
    shown = amount.quantize(Decimal("0.0001"))
    return f"{shown:,} {currency}" if currency else f"{shown:,}"


@register.filter
def number(value: object) -> str:
    """A quantity without trailing zeros: `1500.000000` → `1,500`."""
    amount = _decimal(value)
    if amount is None:
        return DASH
    normalized = amount.normalize()
    if normalized == normalized.to_integral():
        normalized = normalized.quantize(Decimal(1))
    return f"{normalized:,f}"


@register.filter
def ratio(value: object) -> str:
    amount = _decimal(value)
    return DASH if amount is None else f"{amount.quantize(Decimal('0.01'))}×"


@register.filter
def percent(value: object) -> str:
    amount = _decimal(value)
    return DASH if amount is None else f"{(amount * 100).quantize(Decimal('0.1'))}%"


@register.filter
def sum_values(values: Iterable[Any]) -> int:
    """`counts.values|sum_values`: the total of counts; anything not a count gives 0."""
    try:
        return sum(int(value) for value in values)
    except (TypeError, ValueError):
        return 0


@register.filter
def price(value: object, currency: str | None = None) -> str:
    """A unit price with at least the minor unit's digits (4 → 4.00) and any finer ones it has (0.0025)."""
    amount = _decimal(value)
    if amount is None:
        return DASH
    places = 2
    if currency:
        try:
            places = minor_unit(currency)
        except ValueError:
            pass
    normalized = amount.normalize()
    exponent = normalized.as_tuple().exponent
    digits = max(places, -exponent if isinstance(exponent, int) else places)
    return f"{amount:,.{digits}f}"


@register.filter
def kind_label(kind: str) -> str:
    """An invoice line's kind as people read it: `platform_fee` → `Platform fee`."""
    return _label(InvoiceLine.Kind, kind)


@register.filter
def pricing_model(model: str) -> str:
    """A price-book entry's pricing model as people read it: `graduated` → `Graduated tiers`."""
    return _label(PriceBookEntry.Model, model)


def _label(choices: type[models.TextChoices], value: str) -> str:
    """The label the choices give `value`; a value they do not know is shown as stored."""
    return dict(choices.choices).get(value, value)


@register.filter
def get_item(mapping: object, key: object) -> object:
    """`mapping|get_item:key` for dicts built by a view (templates cannot index with a variable)."""
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def nonzero(value: object) -> bool:
    amount = _decimal(value)
    return amount is not None and amount != 0
