"""Event building: exact decimal quantities, RFC 3339 timestamps, validated fields."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from tally_sdk import events
from tally_sdk.events import build_outcome, build_usage, format_quantity, format_timestamp

pytestmark: list[Any] = []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, "3"),
        (0, "0"),
        (Decimal("12.50"), "12.50"),
        (Decimal("1E+3"), "1000"),
        (Decimal("1e-7"), "0.0000001"),
        ("2.5", "2.5"),
        (" 42 ", "42"),
        (0.1, "0.1"),  # via repr, not the binary expansion 0.1000000000000000055...
        (1e20, "100000000000000000000"),
        (-5, "-5"),
    ],
)
def test_quantities_become_plain_decimal_strings(value: Any, expected: str) -> None:
    assert format_quantity(value) == expected


@pytest.mark.parametrize("value", ["abc", "", float("nan"), float("inf"), Decimal("NaN"), "Infinity"])
def test_non_numbers_and_non_finite_quantities_are_refused(value: Any) -> None:
    with pytest.raises(ValueError):
        format_quantity(value)


@pytest.mark.parametrize("value", [True, None, [1], object()])
def test_quantities_of_the_wrong_type_are_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        format_quantity(value)


def test_timestamps_are_utc_rfc3339_with_z() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2025, 1, 2, 13, 0, tzinfo=cet)) == "2025-01-02T12:00:00.000000Z"
    assert format_timestamp("2025-01-02T12:00:00Z") == "2025-01-02T12:00:00.000000Z"
    assert format_timestamp("2025-01-02T14:00:00+02:00") == "2025-01-02T12:00:00.000000Z"


def test_default_timestamp_is_now_in_utc() -> None:
    before = datetime.now(timezone.utc)
    stamped = datetime.fromisoformat(format_timestamp(None).replace("Z", "+00:00"))
    assert before <= stamped <= datetime.now(timezone.utc)


@pytest.mark.parametrize(
    "value",
    [datetime(2025, 1, 2, 12, 0), "2025-01-02T12:00:00", "yesterday"],  # noqa: DTZ001 naive on purpose
)
def test_naive_or_unreadable_timestamps_are_refused(value: Any) -> None:
    with pytest.raises(ValueError):
        format_timestamp(value)


def usage(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        customer="acme",
        meter="gpu_seconds",
        quantity=5,
        task_id=None,
        properties=None,
        timestamp=None,
        idempotency_key=None,
    )
    fields.update(overrides)
    return build_usage(**fields)


def test_usage_event_has_the_api_shape_and_omits_empty_optionals() -> None:
    event = usage(idempotency_key="k-1", timestamp="2025-01-01T00:00:00Z")
    assert event == {
        "idempotency_key": "k-1",
        "customer": "acme",
        "meter": "gpu_seconds",
        "quantity": "5",
        "timestamp": "2025-01-01T00:00:00.000000Z",
    }


def test_generated_keys_are_unique_uuids() -> None:
    keys = {usage()["idempotency_key"] for _ in range(100)}
    assert len(keys) == 100
    assert all(len(k) == 36 for k in keys)


def test_properties_are_copied_and_made_json_safe() -> None:
    props: dict[str, Any] = {
        "gpu": "h100",
        "price": Decimal("1.10"),
        "at": datetime(2025, 1, 1, tzinfo=timezone.utc),
    }
    event = usage(properties=props)
    props["gpu"] = "a100"
    assert event["properties"] == {"gpu": "h100", "price": "1.10", "at": "2025-01-01T00:00:00.000000Z"}


def test_unserializable_properties_fail_at_the_call_site() -> None:
    with pytest.raises(TypeError):
        usage(properties={"x": object()})


@pytest.mark.parametrize("field", ["customer", "meter", "idempotency_key", "task_id"])
def test_empty_identifiers_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        usage(**{field: ""})


def test_outcome_event_shape() -> None:
    event = build_outcome(
        customer="acme",
        outcome="ticket_resolved",
        task_id="t-9",
        properties={"csat": 5},
        timestamp=None,
        idempotency_key="o-1",
    )
    assert event["outcome"] == "ticket_resolved" and event["task_id"] == "t-9"
    assert event["properties"] == {"csat": 5}
    assert set(event) == {"idempotency_key", "customer", "outcome", "task_id", "timestamp", "properties"}


def test_bodies_carry_text_as_utf8_so_the_server_takes_its_fast_path() -> None:
    body = events.dumps({"events": [{"task_id": "tâche-日本", "properties": {"note": "naïve ☃"}}]})
    assert b"\\" not in body
    assert json.loads(body) == {"events": [{"task_id": "tâche-日本", "properties": {"note": "naïve ☃"}}]}


def test_a_lone_surrogate_falls_back_to_escapes() -> None:
    body = events.dumps({"note": "bad \ud800 half"})
    assert body == b'{"note":"bad \\ud800 half"}'
