"""Money: Decimal amounts with an ISO 4217 currency, and the one rounding rule.

Rounding rule (the only place amounts are rounded): an invoice line's amount is computed exactly
and then rounded ROUND_HALF_UP (halves away from zero) to the currency's minor unit, once, when the
line is priced. Invoice totals are sums of already rounded lines, so a total always equals the sum
of its lines. Costs to serve are kept exact (they are not charged) and only rounded for display.

Amounts a person or a client enters (credit notes, credit grants, spend caps, minimum commits,
platform fees) are never rounded: `money_check` refuses one finer than the currency's minor unit,
naming the field, so no such amount reaches a line. Unit prices may keep more digits; the lines
they price are rounded by the rule above.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from iso4217 import Currency

from core.errors import DomainError

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


def money_check(amount: Decimal, currency: str, *, field: str) -> Decimal:
    """`amount` unchanged when the currency can carry it; else a DomainError naming `field`
    ("0.001 has more decimals than USD's 2")."""
    try:
        places = minor_unit(currency)
    except ValueError as exc:
        raise DomainError(f"{currency!r} is not an ISO 4217 currency code.", field="currency") from exc
    try:
        fits = amount.is_finite() and amount == amount.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # more digits than the context holds: not an amount anyone bills
        fits = False
    if not fits:
        raise DomainError(f"{amount} has more decimals than {currency}'s {places}.", field=field)
    return amount


def format_money(amount: Decimal, currency: str) -> str:
    return f"{round_money(amount, currency):,} {currency}"
