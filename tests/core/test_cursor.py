"""The event debugger's cursor is opaque to clients, round-trips exactly and refuses forgeries by field."""

from datetime import UTC, datetime

import pytest

from core.api.cursor import cursor_decode, cursor_encode
from core.errors import DomainError


def test_a_cursor_round_trips_timestamp_and_id() -> None:
    moment = datetime(2026, 11, 29, 6, 30, 1, 123456, tzinfo=UTC)
    assert cursor_decode(cursor_encode(moment, 42)) == (moment, 42)


@pytest.mark.parametrize("value", ["", "not-base64!", "WyIyMDI2LTExLTI5IiwgNDJd", "WzEsMl0"])
def test_anything_else_is_refused_naming_the_cursor(value: str) -> None:
    with pytest.raises(DomainError) as error:
        cursor_decode(value)
    assert error.value.field == "cursor"
