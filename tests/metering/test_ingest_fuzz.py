"""Whatever a client sends, ingestion answers 200 with every event accounted for, or a 4xx naming what
is wrong: never a 500, never a silent drop."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import MeterFactory, OutcomeTypeFactory
from tests.metering.test_ingest_usage import URL

pytestmark = pytest.mark.django_db

texts = st.text(max_size=30) | st.sampled_from(["acme", "llm_tokens", "", "a" * 201, "x\x00y", "\t\n\\"])
numbers = st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False) | st.decimals(
    allow_nan=False, allow_infinity=False, places=14).map(str)
json_values = st.recursive(st.none() | st.booleans() | numbers | texts,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                           max_leaves=8)
stamps = st.sampled_from(["2026-10-05T10:00:00Z", "2026-02-30T10:00:00Z", "2026-10-05T10:00:00+05:30",
                          "2026-10-05T10:00:00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00",
                          "2126-01-01T00:00:00Z", "yesterday", "1759658400"]) | texts
common = {"idempotency_key": texts, "customer": st.sampled_from(["acme", "nobody"]) | texts, "timestamp": stamps}
optional = {"task_id": st.none() | texts, "properties": st.dictionaries(texts, json_values, max_size=4) | json_values,
            "extra": json_values}
usage_event = st.fixed_dictionaries({
    **common, "meter": st.sampled_from(["llm_tokens", "gpu_seconds"]) | texts,
    "quantity": st.sampled_from(["1", "0.5", "-1", "1e3", "NaN", "1." + "0" * 13]) | numbers | texts,
}, optional=optional)
outcome_event = st.fixed_dictionaries({**common, "outcome": st.sampled_from(["ticket_resolved"]) | texts},
                                      optional=optional)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(kind=st.sampled_from(["usage", "outcome"]), data=st.data(), ascii_only=st.booleans())
def test_any_batch_is_answered_with_every_event_accounted_for(vendor, kind, data, ascii_only) -> None:
    if not vendor.organization.meters.exists():
        MeterFactory.create(organization=vendor.organization)
        OutcomeTypeFactory.create(organization=vendor.organization)
    events = data.draw(st.lists((usage_event if kind == "usage" else outcome_event) | json_values, max_size=6))
    body = json.dumps({"events": events}, ensure_ascii=ascii_only)
    response = vendor.api.post(URL if kind == "usage" else "/api/v1/outcome-events",
                               body.encode("utf-8", "surrogatepass"))
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        result = response.json()
        assert result["accepted"] + result["duplicates"] + len(result["rejected"]) == len(events)
        for item in result["rejected"]:
            assert item["errors"] and all(isinstance(message, str) for message in item["errors"].values())
    else:
        assert response.json()["errors"]
