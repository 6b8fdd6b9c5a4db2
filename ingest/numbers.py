"""JSON numbers read from their text, never through a float.

pydantic reads a JSON number with a fraction or an exponent as a double before any validator sees it
(pydantic/pydantic#9180, pydantic-core#1688: 12345678901234567890.123456789012 would become
12345678901234567000), and so does orjson. So an exact field never takes that reading:

- the full tier parses such a batch again with the standard library, which hands each number's text to
  `JsonNumber`, and the model reads the text (`exact_decimal`);
- the plain tier quotes those numbers in the raw body before pydantic parses it (`QuotedNumbers`), and
  passes the text to COPY as written.
"""

import json
import re
from itertools import repeat
from typing import Any


class JsonNumber(float):
    """A JSON number with a fraction or an exponent (or NaN, Infinity): a float to anything that reads
    floats (properties), and its text as sent to an exact field."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> "JsonNumber":
        number = super().__new__(cls, text)
        number.text = text
        return number


def loads_exact(body: bytes) -> Any:
    """A body pydantic's parser has accepted, with every JSON number that is not an integer a `JsonNumber`
    (integers are exact ints). pydantic decides what is JSON for both tiers: the standard library alone
    would take a lone surrogate (`\\ud800`) that no UTF-8 column can store."""
    return json.loads(body.decode(), parse_float=JsonNumber, parse_constant=JsonNumber)


def exact_decimal(value: Any) -> Any:
    """Before a Decimal field: a `JsonNumber` gives its text; a float would give digits nobody sent."""
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, float):
        raise ValueError("A float is not exact: send a decimal string or a JSON number.")
    return value


# A JSON number (RFC 8259), then what may follow a value inside an object. Possessive (Python 3.11): a shorter
# number is always followed by a digit, ".", "e" or "E", never by what may follow a value, so giving characters
# back could never make a match; not trying it makes the quoting ~15% cheaper.
_NUMBER = rb"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+(?=[ \t\r\n,}])"
_FRACTION = rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]|[eE])"


class QuotedNumbers:
    """Spells one field's JSON numbers as JSON strings of the same text, in a body with no backslash.

    The quoting is blind to nesting: a number under a key ending in the field's name inside properties
    is quoted too. So `quote` also counts the places where the name ends (a key, or the end of a string),
    and a caller keeps the result only when that count equals the batch's events: each event has the
    field once, and then nothing else in the body bears that name. Only a body whose first such value
    has a fraction or an exponent is worth quoting: it costs ~0.4 ms per 1,000 events (the plain tier's
    parse, ~1.5 ms), and pydantic reads integers exactly.
    """

    def __init__(self, field: str) -> None:
        name = re.escape(field.encode())
        self._key = b'"' + field.encode() + b'"'
        self._colon = field.encode() + b'":'
        space = rb"[ \t\r\n]*+"
        self._first_has_fraction = re.compile(b'"' + name + b'"' + space + b":" + space + _FRACTION)
        # Without the leading quote the scan stops at each "q" rather than at each of the body's quotes.
        self._number = re.compile(name + b'"' + space + b":" + space + b"(" + _NUMBER + b")")
        # Each end of the name, with the number it is the key of, if any: the count and the quoting in one scan.
        self._end = re.compile(name + b'"(?:' + space + b":" + space + b"(" + _NUMBER + b"))?")

    def first_has_fraction(self, body: bytes) -> bool:
        at = body.find(self._key)
        return at >= 0 and self._first_has_fraction.match(body, at) is not None

    def quote(self, body: bytes) -> tuple[bytes, int] | None:
        """The body with every number of the field quoted, and how many times the name ends a key or a
        string in it ("x_quantity" and "...quantity" strings too); None when the field has no number."""
        parts = self._end.split(body)  # text, number or None (an end that is not such a key), text, ..., text
        ends = len(parts) // 2
        if None in parts[1::2]:  # a quantity sent as a string, or the name elsewhere: quote the numbers alone
            parts = self._number.split(body)
        if len(parts) == 1:
            return None
        # text + 'quantity":' + '"' + number + '"' + text ...: joined in C, no Python-level step per event
        # (a join of twice as many pieces, the quotes apart, took 0.3 ms more).
        parts[0:-1:2] = map(bytes.__add__, parts[0:-1:2], repeat(self._colon))
        return b'"'.join(parts), ends
