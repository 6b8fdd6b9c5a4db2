"""Display of money, costs and ratios: rounding here is for reading only, never stored."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.db import models
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from billing.models import InvoiceLine, PriceBookEntry
from core.money import minor_unit, round_money
from core.periods import Period

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


def _period_text(value: object) -> str:
    if isinstance(value, Period):
        return value.label
    if isinstance(value, date):
        return value.strftime("%Y-%m")
    return "" if value is None else str(value)


def is_current_period(value: object) -> bool:
    return _period_text(value) == Period.of(timezone.now()).label


@register.filter
def period(value: object) -> SafeString:
    """A period (`Period`, a date in it, or "YYYY-MM") as YYYY-MM; the current one says it is month to
    date, since its figures still grow."""
    text = _period_text(value)
    if is_current_period(value):
        return format_html('{} <span class="mtd">month to date</span>', text)
    return format_html("{}", text)


@register.filter
def volume_tiers(tiers: object, currency: str) -> list[str]:
    """Volume tiers as they price: every outcome of the month at the price of the tier its count reaches
    ("all at 4.00 up to 500", "all at 3.50 once the month passes 500")."""
    if not isinstance(tiers, list):
        return []
    phrases = []
    previous_up_to: int | None = 0
    for index, tier in enumerate(tiers):
        unit = price(tier.get("unit_price"), currency)
        fee = tier.get("flat_fee")
        extra = f" + {price(fee, currency)} {currency} flat" if nonzero(fee) else ""
        up_to = None if tier.get("up_to") is None else int(tier["up_to"])
        if index == 0 and up_to is not None:
            phrases.append(f"all at {unit} {currency}{extra} while the month stays within {up_to:,}")
        elif index == 0:
            phrases.append(f"all at {unit} {currency}{extra}")
        elif up_to is None:
            phrases.append(f"all at {unit} {currency}{extra} once the month passes {previous_up_to:,}")
        else:
            passes = f"once the month passes {previous_up_to:,} (up to {up_to:,})"
            phrases.append(f"all at {unit} {currency}{extra} {passes}")
        previous_up_to = up_to
    return phrases
