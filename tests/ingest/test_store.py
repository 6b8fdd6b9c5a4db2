"""A batch's properties are written as JSON in one call: each event's text must be what a call of its own gives."""

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from ingest.store import json_text, json_texts

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.sampled_from(["a", ",", '"', "\x00", "\\", "é"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3),
    max_leaves=8,
)


@given(st.lists(json_values, max_size=6))
@example([{"a": "\x00"}, ["\x00", "\x00"], "\x00", {}])  # the separator's own text inside the values
@example([{"n": 2**64}, {"m": 1}])  # beyond orjson's 64 bits
@example([{"n": None}, {"x": float("nan")}])  # a null written as such, and NaN, which orjson would write as null
def test_one_dump_of_the_batch_gives_each_value_its_own_text(values: list[Any]) -> None:
    each = [json_text(value) for value in values]

    assert json_texts(values) == (None if None in each else each)
