"""The one rounding rule: half away from zero, to the currency's minor unit, never through a float."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import CURRENCY_MINOR_UNITS, format_money, minor_unit, round_money


def test_minor_units_come_from_iso_4217() -> None:
    assert (minor_unit("USD"), minor_unit("JPY"), minor_unit("BHD")) == (2, 0, 3)


def test_an_unknown_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="XYZ"):
        minor_unit("XYZ")


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    ("0.125", "USD", "0.13"), ("-0.125", "USD", "-0.13"), ("0.124999", "USD", "0.12"),
    ("2.5", "JPY", "3"), ("1.0005", "BHD", "1.001"), ("10", "USD", "10.00"),
])
def test_halves_round_away_from_zero_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    rounded = round_money(Decimal(amount), currency)
    assert str(rounded) == expected


@given(st.decimals(min_value=-10**9, max_value=10**9, places=6), st.sampled_from(["USD", "JPY", "BHD", "EUR"]))
def test_rounding_is_idempotent_and_within_half_a_minor_unit(amount: Decimal, currency: str) -> None:
    once = round_money(amount, currency)
    assert round_money(once, currency) == once
    assert abs(once - amount) <= Decimal(1).scaleb(-CURRENCY_MINOR_UNITS[currency]) / 2


def test_format_money_groups_thousands_and_names_the_currency() -> None:
    assert format_money(Decimal("1234567.891"), "USD") == "1,234,567.89 USD"
    assert format_money(Decimal("1500"), "JPY") == "1,500 JPY"


def test_the_kernel_imports_without_django_settings_or_celery() -> None:
    """core is a plain library: importing money and periods boots neither Celery nor a settings default."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    probe = ("import os, sys, core.money, core.periods; "
             "assert 'celery' not in sys.modules, 'celery'; "
             "assert 'DJANGO_SETTINGS_MODULE' not in os.environ, 'settings'")
    result = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[2], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("amount", "currency"), [
    ("0.001", "USD"), ("0.5", "JPY"), ("0.1255", "KWD"), ("100.5", "JPY"), ("5.005", "USD"),
])
def test_an_amount_finer_than_the_minor_unit_is_refused_naming_the_field(amount: str, currency: str) -> None:
    from core.errors import DomainError
    from core.money import money_check

    with pytest.raises(DomainError) as refused:
        money_check(Decimal(amount), currency, field="spend_cap")
    assert refused.value.field == "spend_cap"
    assert refused.value.message == f"{amount} has more decimals than {currency}'s {minor_unit(currency)}."


@pytest.mark.parametrize(("amount", "currency"), [
    ("0.01", "USD"), ("5.00", "USD"), ("100", "JPY"), ("100.000", "JPY"), ("0.125", "KWD"), ("1E+3", "USD"),
])
def test_an_amount_in_whole_minor_units_passes_unchanged(amount: str, currency: str) -> None:
    from core.money import money_check

    assert money_check(Decimal(amount), currency, field="amount") is not None
    assert str(money_check(Decimal(amount), currency, field="amount")) == amount
