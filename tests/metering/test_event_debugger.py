"""The event debugger: list events by cursor, summarise a customer's usage; scoped to the key's organization."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import CustomerFactory, MeterFactory, OutcomeTypeFactory
from tests.metering.test_ingest_usage import URL, usage

OUTCOMES = "/api/v1/outcome-events"


@pytest.fixture
def meters(vendor):
    return MeterFactory.create(organization=vendor.organization), MeterFactory.create(
        organization=vendor.organization, code="gpu_seconds", unit="second"
    )


def at(minute: int) -> str:
    return (datetime(2026, 10, 5, 10, 0, tzinfo=UTC) + timedelta(minutes=minute)).isoformat()


def test_usage_events_page_by_cursor_newest_first_without_gaps_or_repeats(vendor, meters) -> None:
    vendor.api.post(URL, {"events": [usage(f"k{i}", timestamp=at(i % 3)) for i in range(7)]})
    seen: list[str] = []
    page = vendor.api.get(URL, customer="acme", limit=3).json()
    while True:
        seen.extend(event["idempotency_key"] for event in page["results"])
        if page["next_cursor"] is None:
            break
        assert page["next"].startswith("http://testserver/api/v1/usage-events?")
        page = vendor.api.get(URL, customer="acme", limit=3, cursor=page["next_cursor"]).json()
    assert sorted(seen) == sorted(f"k{i}" for i in range(7))
    assert len(seen) == 7
    timestamps = [
        e["timestamp"] for e in vendor.api.get(URL, customer="acme", limit=10).json()["results"]
    ]
    assert timestamps == sorted(timestamps, reverse=True)


def test_usage_events_filter_by_task_meter_and_time(vendor, meters) -> None:
    vendor.api.post(URL, {"events": [
        usage("a", task_id="t1", timestamp=at(0)), usage("b", task_id="t2", timestamp=at(10)),
        usage("c", task_id="t1", meter="gpu_seconds", timestamp=at(20)),
    ]})

    def keys(**params: object) -> list[str]:
        response = vendor.api.get(URL, customer="acme", **params)
        assert response.status_code == 200, response.content
        return [event["idempotency_key"] for event in response.json()["results"]]

    assert keys(task_id="t1") == ["c", "a"]
    assert keys(meter="gpu_seconds") == ["c"]
    assert keys(**{"from": at(10), "to": at(20)}) == ["b"]
    first = vendor.api.get(URL, customer="acme", task_id="t2").json()["results"][0]
    assert first["quantity"] == "1500"
    assert first["meter"] == "llm_tokens"
    assert first["properties"] == {"model": "gpt-4o", "direction": "input"}


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [({}, 400, "customer"), ({"customer": "nobody"}, 404, "customer"),
     ({"customer": "acme", "from": "yesterday"}, 400, "from"), ({"customer": "acme", "limit": "5000"}, 400, "limit"),
     ({"customer": "acme", "meter": "nope"}, 404, "meter"), ({"customer": "acme", "cursor": "garbage"}, 400, "cursor")],
)
def test_bad_debugger_parameters_name_the_field(vendor, meters, params, status, field) -> None:
    response = vendor.api.get(URL, **params)
    assert response.status_code == status
    assert field in response.json()["errors"]


def test_a_stranger_sees_none_of_the_vendors_events(vendor, stranger, meters) -> None:
    vendor.api.post(URL, {"events": [usage("secret")]})
    OutcomeTypeFactory.create(organization=vendor.organization)
    vendor.api.post(OUTCOMES, {"events": [{"idempotency_key": "o1", "customer": "acme", "outcome": "ticket_resolved",
                                           "task_id": "t", "timestamp": at(0)}]})
    # The stranger has a customer called "acme" too: its own, with no events.
    assert stranger.api.get(URL, customer="acme").json()["results"] == []
    assert stranger.api.get(OUTCOMES, customer="acme").json()["results"] == []
    summary = stranger.api.get("/api/v1/customers/acme/usage-summary").json()
    assert summary["meters"] == []
    assert vendor.api.get(URL, customer="acme").json()["results"][0]["idempotency_key"] == "secret"


def test_usage_event_list_query_count_does_not_grow_with_the_page(vendor, meters, django_assert_max_num_queries) -> None:
    vendor.api.post(URL, {"events": [usage(f"k{i}", meter=("gpu_seconds" if i % 2 else "llm_tokens"))
                                     for i in range(50)]})
    vendor.api.get(URL, customer="acme")  # warm the key cache
    with django_assert_max_num_queries(4):
        response = vendor.api.get(URL, customer="acme", limit=50)
    assert len(response.json()["results"]) == 50


def test_outcome_events_list_filters_by_status_and_outcome(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_window_hours=0)
    OutcomeTypeFactory.create(organization=vendor.organization, code="review_done")
    events = [{"idempotency_key": f"o{i}", "customer": "acme", "outcome": "ticket_resolved" if i < 3 else "review_done",
               "task_id": f"t{i}", "timestamp": at(i)} for i in range(5)]
    vendor.api.post(OUTCOMES, {"events": events})
    vendor.api.post(f"{OUTCOMES}/o1/reverse", {"reason": "reopened"})

    def keys(**params: object) -> list[str]:
        response = vendor.api.get(OUTCOMES, customer="acme", **params)
        assert response.status_code == 200, response.content
        return [event["idempotency_key"] for event in response.json()["results"]]

    assert keys(status="reversed") == ["o1"]
    assert keys(outcome="review_done") == ["o4", "o3"]
    assert keys(task_id="t2") == ["o2"]
    assert keys(limit=2) == ["o4", "o3"]
    page = vendor.api.get(OUTCOMES, customer="acme", limit=2).json()
    assert [e["idempotency_key"] for e in vendor.api.get(OUTCOMES, customer="acme", limit=2,
                                                         cursor=page["next_cursor"]).json()["results"]] == ["o2", "o1"]
    bad = vendor.api.get(OUTCOMES, customer="acme", status="lost")
    assert bad.status_code == 400 and "status" in bad.json()["errors"]
    assert vendor.api.get(OUTCOMES, customer="acme", outcome="nope").status_code == 404


def test_usage_summary_counts_today_and_this_period_per_meter(vendor, meters) -> None:
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    earlier_this_month = month if month < today else None
    events = [usage("t1", quantity="10", timestamp=now.isoformat()), usage("t2", quantity="5", timestamp=today.isoformat()),
              usage("old", quantity="1000", timestamp=(month - timedelta(days=3)).isoformat()),
              usage("g1", meter="gpu_seconds", quantity="7", timestamp=(month - timedelta(days=40)).isoformat())]
    if earlier_this_month:
        events.append(usage("m1", quantity="100", timestamp=earlier_this_month.isoformat()))
    CustomerFactory.create(organization=vendor.organization, external_id="other/customer")
    events.append(usage("x", customer="other/customer", quantity="99", timestamp=now.isoformat()))
    assert vendor.api.post(URL, {"events": events}).json()["accepted"] == len(events)

    body = vendor.api.get("/api/v1/customers/acme/usage-summary").json()

    by_meter = {row["meter"]: row for row in body["meters"]}
    tokens = by_meter["llm_tokens"]
    assert (tokens["events_today"], tokens["quantity_today"]) == (2, "15")
    assert (tokens["events_period"], tokens["quantity_period"]) == (
        (3, "115") if earlier_this_month else (2, "15")
    )
    assert datetime.fromisoformat(tokens["last_event_at"].replace("Z", "+00:00")) == now.replace(microsecond=now.microsecond)
    gpu = by_meter["gpu_seconds"]
    assert (gpu["events_today"], gpu["events_period"], gpu["quantity_period"]) == (0, 0, "0")
    assert gpu["last_event_at"] is not None
    other = vendor.api.get("/api/v1/customers/other/customer/usage-summary").json()
    assert {row["meter"]: row["events_today"] for row in other["meters"]}["llm_tokens"] == 1
    assert vendor.api.get("/api/v1/customers/nobody/usage-summary").status_code == 404


def test_usage_summary_aggregates_each_meter_its_own_way(vendor) -> None:
    for code, aggregation, unique_property in [("peak_seats", "max", ""), ("active_users", "unique_count", "user"),
                                               ("requests", "count", ""), ("storage_gb", "latest", "")]:
        MeterFactory.create(organization=vendor.organization, code=code, aggregation=aggregation,
                     unique_property=unique_property)
    now = datetime.now(UTC).replace(microsecond=0)
    earlier = max(now - timedelta(minutes=30), now.replace(hour=0, minute=0, second=0))
    events = [
        usage("s1", meter="peak_seats", quantity="4", timestamp=earlier.isoformat()),
        usage("s2", meter="peak_seats", quantity="9", timestamp=now.isoformat()),
        usage("s3", meter="peak_seats", quantity="6", timestamp=now.isoformat()),
        usage("u1", meter="active_users", quantity="1", properties={"user": "ann"}, timestamp=earlier.isoformat()),
        usage("u2", meter="active_users", quantity="1", properties={"user": "bob"}, timestamp=now.isoformat()),
        usage("u3", meter="active_users", quantity="1", properties={"user": "ann"}, timestamp=now.isoformat()),
        usage("r1", meter="requests", quantity="250", timestamp=now.isoformat()),
        usage("r2", meter="requests", quantity="250", timestamp=now.isoformat()),
        usage("g1", meter="storage_gb", quantity="80", timestamp=earlier.isoformat()),
        usage("g2", meter="storage_gb", quantity="75", timestamp=now.isoformat()),
    ]
    assert vendor.api.post(URL, {"events": events}).json()["accepted"] == len(events)

    meters = {row["meter"]: row for row in vendor.api.get("/api/v1/customers/acme/usage-summary").json()["meters"]}

    assert {code: (row["events_period"], row["quantity_period"]) for code, row in meters.items()} == {
        "peak_seats": (3, "9"), "active_users": (3, "2"), "requests": (2, "2"), "storage_gb": (2, "75"),
    }
    assert meters["storage_gb"]["quantity_today"] == "75"
