"""Money: Decimal amounts with an ISO 4217 currency, and the one rounding rule.

Rounding rule (the only place amounts are rounded): an invoice line's amount is computed exactly
and then rounded ROUND_HALF_UP (halves away from zero) to the currency's minor unit, once, when the
line is priced. Invoice totals are sums of already rounded lines, so a total always equals the sum
of its lines. Costs to serve are kept exact (they are not charged) and only rounded for display.
"""

from decimal import ROUND_HALF_UP, Decimal

from iso4217 import Currency

CURRENCY_MINOR_UNITS: dict[str, int] = {
    currency.code: currency.exponent for currency in Currency if currency.exponent is not None
}


def minor_unit(currency: str) -> int:
    try:
        return CURRENCY_MINOR_UNITS[currency]
    except KeyError as exc:
        raise ValueError(f"{currency!r} is not an ISO 4217 currency with a minor unit") from exc


def round_money(amount: Decimal, currency: str) -> Decimal:
    exponent = Decimal(1).scaleb(-minor_unit(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal, currency: str) -> str:
    return f"{round_money(amount, currency):,} {currency}"
