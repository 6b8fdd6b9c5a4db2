"""The plain tier may only accept what UsageEventIn accepts, and its text must mean the same value to
PostgreSQL as UsageEventIn's parse: otherwise the fast path would store what the contract refuses,
or store it differently."""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import DataError, connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ingest.validate import PLAIN_TIMESTAMP, PlainBatchValidator, any_later_than
from metering.ingestion import USAGE_EVENTS
from metering.schemas import PLAIN_QUANTITY, UsageEventIn, UsageEventPlain

pytestmark = pytest.mark.django_db
checked = TypeAdapter(UsageEventIn)
plain = TypeAdapter(UsageEventPlain)


def event(**values: object) -> dict[str, object]:
    return {"idempotency_key": "k", "customer": "c", "meter": "m", "quantity": "1",
            "timestamp": "2026-10-05T10:00:00Z", **values}


def postgres_reads(value: str, sql_type: str, expression: str = "{}") -> object | None:
    """What PostgreSQL makes of the text, or None if it refuses it."""
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT probe")
        try:
            cursor.execute("SELECT " + expression.format(f"%s::text::{sql_type}"), [value])
            return cursor.fetchone()[0]
        except DataError:
            cursor.execute("ROLLBACK TO SAVEPOINT probe")
            return None


def contract_reads(**values: object) -> UsageEventIn | None:
    try:
        return checked.validate_python(event(**values))
    except ValidationError:
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.from_regex(PLAIN_TIMESTAMP, fullmatch=True))
@example("2026-02-29T10:00:00Z")
@example("2024-02-29T23:59:59.999999-15:59")
@example("1900-01-01T00:00:00+15:59")
@example("2199-12-31T23:59:59-15:59")
@example("2026-04-31T00:00:00Z")
def test_a_plain_timestamp_means_the_same_to_postgres_and_to_the_contract(stamp: str) -> None:
    assert plain.validate_python(event(timestamp=stamp))["timestamp"] == stamp
    stored = postgres_reads(stamp, "timestamptz", "extract(epoch from {})")
    parsed = contract_reads(timestamp=stamp)
    # PostgreSQL refusing a stamp sends the batch to the contract, which must refuse it too.
    assert (stored is None) == (parsed is None)
    if parsed is not None:  # compared as seconds since 1970: Python has no year 0 for 0001-01-01T00:00+01:00
        since_epoch = parsed.timestamp - datetime(1970, 1, 1, tzinfo=UTC)
        assert stored == Decimal(since_epoch.days * 86_400 + since_epoch.seconds) + Decimal(since_epoch.microseconds
                                                                                           ).scaleb(-6)


def batch(quantity: str, **values: object) -> bytes:
    """A one-event batch whose quantity is `quantity`, as JSON text (a string, a number, NaN...)."""
    fields = ", ".join(f'"{name}": {json.dumps(value)}' for name, value in event(**values).items() if name != "quantity")
    return ('{"events": [{' + fields + ', "quantity": ' + quantity + "}]}").encode()


def plain_quantity(body: bytes) -> str | None:
    """The quantity's text the plain tier would send to COPY, or None if it leaves the batch to the contract."""
    events = USAGE_EVENTS.plain_validator.validate(body)
    return None if events is None else str(events[0]["quantity"])


def contract_quantity(body: bytes) -> Decimal | None:
    events, _, _ = USAGE_EVENTS.full_validator.validate(body)
    return events[0].quantity if events else None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.from_regex(PLAIN_QUANTITY, fullmatch=True), st.sampled_from(["string", "integer", "decimal"]))
@example("9" * 26 + "." + "9" * 12, "decimal")
@example("12345678901234567890.123456789012", "decimal")
@example("0.1", "decimal")
@example("9" * 26, "integer")
@example("0000.000000000000", "string")
def test_a_plain_quantity_in_each_spelling_means_the_same_to_postgres_and_to_the_contract(
    quantity: str, spelling: str
) -> None:
    integer, _, fraction = quantity.partition(".")
    number = integer.lstrip("0") or "0"  # JSON numbers have no leading zeros
    sent = {"string": json.dumps(quantity), "integer": number, "decimal": f"{number}.{fraction or '0'}"}[spelling]
    body = batch(sent)
    text = plain_quantity(body)
    assert text is not None  # the plain tier takes every spelling of a plain quantity
    assert postgres_reads(text, "numeric(38, 12)") == contract_quantity(body) == Decimal(sent.strip('"'))


@pytest.mark.parametrize("quantity", [
    '"1e3"', '"-1"', '"1."', '".5"', '"1.0000000000001"', json.dumps("9" * 27), '" 1"', '"١"', '"NaN"',
    "1e3", "1E+3", "2.5e0", "-1", "-2.5", "1.0000000000001", "9" * 27, "1" + "0" * 26 + ".5", "NaN",
    "Infinity", "-Infinity", "true", "null",
])
def test_other_quantity_spellings_are_left_to_the_contract(quantity: str) -> None:
    assert plain_quantity(batch(quantity)) is None


@pytest.mark.parametrize(("quantity", "value"), [
    ("1e3", "1000"), ("2.5E-1", "0.25"), ("12345678901234567890.123456789012", "12345678901234567890.123456789012"),
    ('"0.000000000001"', "0.000000000001"), ("-0", "0"), ("1" + "0" * 25 + ".5", "1" + "0" * 25 + ".5"),
])
def test_the_contract_reads_json_numbers_from_their_text(quantity: str, value: str) -> None:
    assert contract_quantity(batch(quantity, timestamp="2026-10-05T10:00:00+05:30")) == Decimal(value)


@pytest.mark.parametrize("quantity", [
    "-1", "-0.5", "1e400", "1E-400", "NaN", "Infinity", "-Infinity", "9" * 27, "1.0000000000001", '"lots"', "true",
])
def test_quantities_the_contract_refuses_are_rejected_naming_the_field(quantity: str) -> None:
    events, _, rejected = USAGE_EVENTS.full_validator.validate(batch(quantity))
    assert events == []
    assert [list(item["errors"]) for item in rejected] == [["quantity"]]


def test_a_python_float_never_becomes_a_quantity() -> None:
    with pytest.raises(ValidationError, match="float"):
        UsageEventIn.model_validate(event(quantity=0.1))


@pytest.mark.parametrize("properties", [
    '{"quantity": 1.5}', '{"unit_quantity": 2.25}', '{"nested": [{"quantity": 7.5}]}',
])
def test_a_number_elsewhere_under_the_quantitys_name_leaves_the_batch_to_the_contract(properties: str) -> None:
    body = batch("2.5").replace(b'"quantity": 2.5', b'"quantity": 2.5, "properties": ' + properties.encode())
    assert plain_quantity(body) is None
    events, _, _ = USAGE_EVENTS.full_validator.validate(body)
    assert events[0].quantity == Decimal("2.5")
    assert events[0].properties == json.loads(properties)  # numbers still, not quoted


def test_spellings_may_be_mixed_in_one_plain_batch() -> None:
    events = [batch(quantity).decode()[12:-2] for quantity in ["7", '"1.5"', "2.25", "0.1", "12"]]
    body = ('{"events": [' + ", ".join(events) + "]}").encode()
    plain = USAGE_EVENTS.plain_validator.validate(body)
    assert plain is not None
    assert [str(e["quantity"]) for e in plain] == ["7", "1.5", "2.25", "0.1", "12"]


@pytest.mark.parametrize("value", [
    "2026-10-05T10:00:00", "2026-10-05 10:00:00Z", "2026-10-05T10:00:00z", "2026-10-05T10:00:00.1234567Z",
    "2026-10-05T24:00:00Z", "0001-01-01T00:00:00+01:00", "2026-10-05T10:00:00+16:00", "2026-10-05T10:00:60Z", "2026-10-05T10:00:00+0530", "2026-10-05", "1759658400",
])
def test_other_timestamp_spellings_are_left_to_the_contract(value: str) -> None:
    with pytest.raises(ValidationError):
        plain.validate_python(event(timestamp=value))


def test_a_body_with_any_backslash_is_left_to_the_contract() -> None:
    validator = PlainBatchValidator(UsageEventPlain)
    assert validator.validate(b'{"events": [{"idempotency_key": "k", "customer": "c", "meter": "m", '
                              b'"quantity": "1", "timestamp": "2026-10-05T10:00:00Z"}]}') is not None
    assert validator.validate(b'{"events": [{"idempotency_key": "k\\u00e9", "customer": "c", "meter": "m", '
                              b'"quantity": "1", "timestamp": "2026-10-05T10:00:00Z"}]}') is None


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),  # noqa: DTZ001
       st.lists(st.tuples(st.integers(-15 * 60 - 59, 15 * 60 + 59), st.integers(-3 * 86_400, 3 * 86_400),
                          st.integers(0, 999_999)), min_size=1, max_size=5))
def test_any_later_than_agrees_with_parsing(moment: datetime, stamps: list[tuple[int, int, int]]) -> None:
    moment = moment.replace(tzinfo=UTC)
    times = [(moment + timedelta(seconds=shift, microseconds=micro)).astimezone(timezone(timedelta(minutes=offset)))
             for offset, shift, micro in stamps]
    texts = [time.isoformat().replace("+00:00", "Z") for time in times]
    assert any_later_than(texts, moment) == any(time > moment for time in times)
