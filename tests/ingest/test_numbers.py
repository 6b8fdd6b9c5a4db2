"""JSON numbers are read from their text: quoted in a plain body, or parsed again for the full model."""

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidJson
from ingest.numbers import JsonNumber, QuotedNumbers, exact_decimal, loads_exact
from metering.ingestion import USAGE_EVENTS

quantities = QuotedNumbers("quantity")


def test_each_number_of_the_field_is_quoted_as_written_and_nothing_else() -> None:
    body = (b'{"events": [{"quantity": 2.50, "n": 1.5}, {"quantity":12}, {"quantity" :\t-1E+3 },'
            b' {"quantity": "7"}, {"quantity": null}, {"quantity": 0}]}')
    assert quantities.quote(body) == (b'{"events": [{"quantity":"2.50", "n": 1.5}, {"quantity":"12"}, '
                                      b'{"quantity":"-1E+3" }, {"quantity": "7"}, {"quantity": null}, '
                                      b'{"quantity":"0"}]}', 6)


def test_the_count_is_of_every_end_of_the_name() -> None:
    body = b'{"events": [{"quantity": 2.5, "properties": {"x_quantity": 1, "note": "a quantity"}}, {"quantity": 3}]}'
    assert quantities.quote(body) == (b'{"events": [{"quantity":"2.5", "properties": {"x_quantity":"1", '
                                      b'"note": "a quantity"}}, {"quantity":"3"}]}', 4)


@pytest.mark.parametrize("body", [b'{"quantity": "2.5"}', b'{"quantity": 01}', b'{"quantity": 1.}', b'{"quantity": .5}',
                                  b'{"quantity": 1.5.5}', b'{"quantity": 2.5x}', b'{"other": 2.5}'])
def test_a_body_without_a_json_number_in_the_field_is_left_as_it_is(body: bytes) -> None:
    assert quantities.quote(body) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text("ab q\"_y"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["quantity", "x_quantity", "quantity_x", "a", "quantity\"", ""]), inner, max_size=3),
    max_leaves=10,
)


def quoted_as_text(value: Any) -> Any:
    """What the quoting should make of a document: numbers under a key ending in "quantity" become their text."""
    if isinstance(value, dict):
        return {key: json.dumps(item) if key.endswith("quantity") and type(item) in (int, float) else quoted_as_text(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [quoted_as_text(item) for item in value]
    return value


@given(json_values, st.sampled_from([(", ", ": "), (",", ":"), (" , ", " :\n ")]))
def test_quoting_changes_only_numbers_under_the_field_and_keeps_the_json_valid(document: Any,
                                                                             separators: tuple[str, str]) -> None:
    body = json.dumps(document, separators=separators).encode()
    if b"\\" in body:
        return  # the plain tier never quotes a body with a backslash
    quoted = quantities.quote(body)
    assert json.loads(quoted[0] if quoted is not None else body) == quoted_as_text(document)
    assert quoted is None or quoted[1] == body.count(b'quantity"')


def test_the_first_number_decides_whether_quoting_comes_first() -> None:
    assert quantities.first_has_fraction(b'{"events": [{"quantity": 2.5}, {"quantity": 3}]}')
    assert quantities.first_has_fraction(b'{"events": [{"quantity":-1e3}]}')
    assert not quantities.first_has_fraction(b'{"events": [{"quantity": 3}, {"quantity": 2.5}]}')
    assert not quantities.first_has_fraction(b'{"events": [{"quantity": "2.5"}]}')


def test_the_exact_parse_keeps_every_digit() -> None:
    document = loads_exact(b'{"a": 12345678901234567890.123456789012, "b": 1e400, "c": NaN, '
                           b'"d": 123456789012345678901234567890, "e": -0.0}')
    assert [(type(value), getattr(value, "text", value)) for value in document.values()] == [
        (JsonNumber, "12345678901234567890.123456789012"), (JsonNumber, "1e400"), (JsonNumber, "NaN"),
        (int, 123456789012345678901234567890), (JsonNumber, "-0.0"),
    ]
    assert document["a"] == 12345678901234567890.123456789012  # a float to whatever reads floats


@pytest.mark.parametrize("body", [b'{"events": [{"customer": "\\ud800"}]}', b'{"events": [{"customer": "\xff"}]}',
                                  b'{"events": [', b'{"events": [{"quantity": 01}]}', b'\xef\xbb\xbf{"events": []}'])
def test_what_pydantic_refuses_as_json_is_refused_by_both_tiers(body: bytes) -> None:
    assert USAGE_EVENTS.plain_validator.validate(body) is None
    with pytest.raises(InvalidJson):
        USAGE_EVENTS.full_validator.validate(body)


def test_a_decimal_field_takes_the_text_and_refuses_a_float() -> None:
    assert exact_decimal(JsonNumber("0.1")) == "0.1"
    assert exact_decimal(5) == 5
    assert exact_decimal(Decimal("0.1")) == Decimal("0.1")
    with pytest.raises(ValueError, match="float"):
        exact_decimal(0.1)
