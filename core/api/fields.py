"""Serializer fields shared by every app's API: currencies and decimal-string money."""

from decimal import Decimal, InvalidOperation
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import CURRENCY_MINOR_UNITS

# core.periods.period_parse: YYYY-MM, a year from 2000 and a month 01 to 12.
PERIOD_PATTERN = r"^([2-9][0-9]{3})-(0[1-9]|1[0-2])$"
PERIOD_SCHEMA = {"type": "string", "pattern": PERIOD_PATTERN, "example": "2026-11"}


@extend_schema_field(PERIOD_SCHEMA)
class PeriodField(serializers.CharField):
    """A billing period YYYY-MM, parsed by the view (core.periods.period_parse) and documented here."""


# The codes are documented upper case, as the API stores and answers them; it also takes lower case.
CURRENCY_SCHEMA = {"type": "string", "enum": sorted(CURRENCY_MINOR_UNITS), "example": "USD"}


@extend_schema_field(CURRENCY_SCHEMA)
class CurrencyField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("min_length", 3)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        code = super().to_internal_value(data).upper()
        if code not in CURRENCY_MINOR_UNITS:
            raise serializers.ValidationError(f"{code!r} is not an ISO 4217 currency code.")
        return code


class CodeField(serializers.RegexField):
    """A meter or outcome-type code: letters, digits and _ . : - (e.g. `llm_tokens`, `gpu.seconds`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 100)
        kwargs.setdefault("error_messages", {"invalid": "Use letters, digits and _ . : - only."})
        super().__init__(r"^[A-Za-z0-9_.:-]+$", **kwargs)


class DecimalStringField(serializers.Field):
    """A decimal given as a string ("0.99"); JSON numbers are refused so no float ever enters.

    At most `integer_digits` digits before the point (the column's max_digits less its decimal_places)
    and 12 after it.
    """

    def __init__(self, *, min_value: Decimal | int | None = None, positive: bool = False,
                 integer_digits: int = 18, **kwargs: Any) -> None:
        self.min_value = min_value
        self.positive = positive
        self.integer_digits = integer_digits
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, str | int):
            raise serializers.ValidationError('Must be a decimal string such as "0.99".')
        try:
            value = Decimal(str(data).strip())
        except InvalidOperation as exc:
            raise serializers.ValidationError(f"{data!r} is not a decimal number.") from exc
        if not value.is_finite():
            raise serializers.ValidationError("Must be a finite number.")
        if self.positive and value <= 0:
            raise serializers.ValidationError("Must be greater than zero.")
        if self.min_value is not None and value < self.min_value:
            raise serializers.ValidationError(f"Must be at least {self.min_value}.")
        if abs(value.as_tuple().exponent) > 12 or value.adjusted() >= self.integer_digits:  # type: ignore[arg-type]
            raise serializers.ValidationError(
                f"Out of range: at most {self.integer_digits} integer and 12 decimal digits.")
        return value

    def to_representation(self, value: Any) -> str:
        return format(Decimal(value), "f")


class DecimalStringFieldSchema(OpenApiSerializerFieldExtension):
    """DecimalStringField in the schema: a pattern the field's own checks accept (sign, digits, bounds).

    The pattern is narrower than the field (no exponent, no leading zeros, no negative zero), never wider.
    """

    target_class = DecimalStringField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        field = self.target
        digits = field.integer_digits
        fraction = r"(\.[0-9]{1,12})?"
        if field.positive:  # greater than zero: a non-zero integer part, or a fraction with a non-zero digit
            pattern = rf"^([1-9][0-9]{{0,{digits - 1}}}{fraction}|0\.[0-9]{{0,11}}[1-9])$"
            example = "1"
        elif field.min_value == 0:
            pattern = rf"^(0|[1-9][0-9]{{0,{digits - 1}}}){fraction}$"
            example = "0.99"
        else:
            pattern = rf"^-?(0|[1-9][0-9]{{0,{digits - 1}}}){fraction}$"
            example = "0.99"
        return {"type": "string", "format": "decimal", "pattern": pattern, "example": example}


def decimal_str(value: Decimal, min_places: int = 0) -> str:
    """A decimal as a plain string without trailing zeros, keeping at least `min_places` decimals."""
    value = Decimal(value)
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    places = max(min_places, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


@extend_schema_field({"type": "string", "format": "decimal", "example": "12.50"})
class AmountField(serializers.Field):
    """Output of a decimal amount as a string with at least its currency's minor-unit decimals."""

    def __init__(self, *, currency: Any, **kwargs: Any) -> None:
        self.currency_of = currency
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        value = super().get_attribute(instance)
        if value is None:
            return None
        return value, self.currency_of(instance)

    def to_representation(self, value: Any) -> str | None:
        amount, currency = value
        if not currency:
            return decimal_str(amount)
        return decimal_str(amount, CURRENCY_MINOR_UNITS.get(currency, 2))


def json_without_nul(value: Any) -> Any:
    """Validator: PostgreSQL's jsonb refuses the NUL character (\\u0000) anywhere in a document."""
    def walk(item: Any) -> bool:
        if isinstance(item, str):
            return "\x00" in item
        if isinstance(item, dict):
            return any(walk(key) or walk(child) for key, child in item.items())
        if isinstance(item, list):
            return any(walk(child) for child in item)
        return False

    if walk(value):
        raise serializers.ValidationError("Must not contain NUL (\\u0000) characters.")
    return value
