"""The pipeline sorts every batch by key before its rows are built, in both tiers and for every kind, so that
keys reach the unique index in one order (ingest.store.store_new_rows)."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from ingest.pipeline import EventKind, Rows
from metering.ingestion import USAGE_EVENTS
from outcomes.ingestion import OUTCOME_EVENTS
from tests.factories import MeterFactory, OutcomeTypeFactory
from tests.metering.test_ingest_usage import usage
from tests.outcomes.test_ingest_outcomes import outcome

pytestmark = pytest.mark.django_db
KEYS = ["b", "a", "é", "Z", "ab", "🙂", "a-1", "A"]
KINDS: dict[str, tuple[EventKind[Any], str, Callable[..., dict[str, object]]]] = {
    "usage": (USAGE_EVENTS, "/api/v1/usage-events", usage),
    "outcome": (OUTCOME_EVENTS, "/api/v1/outcome-events", outcome),
}


def keys_seen(kind: EventKind[Any], monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    seen: list[list[str]] = []
    for name in ("plain_lines", "full_lines"):
        build = getattr(kind, name)

        def spy(rows: Rows[Any], build: Any = build) -> Any:
            seen.append([e["idempotency_key"] if isinstance(e, dict) else e.idempotency_key for e in rows.events])
            return build(rows)

        monkeypatch.setattr(kind, name, spy)
    return seen


@pytest.mark.parametrize("kind_name", KINDS)
@pytest.mark.parametrize("offset", ["Z", "+05:30"])  # the plain tier, and the checked tier
def test_rows_are_built_in_key_order_whatever_order_was_sent(vendor, monkeypatch, kind_name, offset) -> None:
    MeterFactory.create(organization=vendor.organization)
    OutcomeTypeFactory.create(organization=vendor.organization)
    kind, url, event = KINDS[kind_name]
    seen = keys_seen(kind, monkeypatch)
    batch = {"events": [event(key, timestamp=f"2026-10-05T10:00:00{offset}") for key in KEYS]}

    answer = vendor.api.post(url, json.dumps(batch, ensure_ascii=False).encode()).json()

    assert answer == {"accepted": len(KEYS), "duplicates": 0, "rejected": []}
    assert seen == [sorted(KEYS)]
