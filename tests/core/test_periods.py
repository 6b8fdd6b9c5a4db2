"""Periods are calendar months in UTC; all month arithmetic in the product goes through them."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import DomainError
from core.periods import Period, period_parse


def test_a_period_knows_its_bounds_and_label() -> None:
    period = Period(date(2026, 12, 1))
    assert period.label == "2026-12"
    assert (period.start_at, period.end_at) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert (period.previous().label, period.next().label) == ("2026-11", "2027-01")


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)), st.integers(-600, 600))
def test_adding_months_lands_on_the_first_and_undoes_itself(day: date, months: int) -> None:
    period = Period.of(day)
    moved = period.add(months)
    assert moved.start.day == 1
    assert (moved.start.year * 12 + moved.start.month) - (day.year * 12 + day.month) == months
    assert moved.add(-months) == period


def test_an_aware_moment_is_read_in_utc() -> None:
    new_year_in_tokyo = datetime(2027, 1, 1, 5, 0, tzinfo=timezone(timedelta(hours=9)))
    assert Period.of(new_year_in_tokyo).label == "2026-12"


def test_a_period_starts_on_the_first() -> None:
    with pytest.raises(ValueError):
        Period(date(2026, 11, 15))


@pytest.mark.parametrize("value", ["2026-13", "2026-00", "26-11", "1999-12", "2026-11-01", 202611, None])
def test_a_malformed_period_names_its_field(value: object) -> None:
    with pytest.raises(DomainError) as error:
        period_parse(value, field="effective_from")
    assert error.value.field == "effective_from" and error.value.status == 400


def test_period_parse_reads_year_and_month() -> None:
    assert period_parse("2026-02") == Period(date(2026, 2, 1))
