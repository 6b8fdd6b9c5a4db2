"""Event traces: why an event cost what it did and which invoice line it fed, or why not."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import Invoice, InvoiceLine
from outcomes.models import OutcomeEvent
from tests.factories import MeterFactory, OutcomeTypeFactory, RateFactory

USAGE = "/api/v1/usage-events"
OUTCOMES = "/api/v1/outcome-events"


def usage(key: str, **overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "idempotency_key": key, "customer": "acme", "meter": "llm_tokens", "quantity": "2000000",
        "timestamp": "2026-10-05T10:00:00Z", "task_id": "ticket-1", "properties": {"model": "gpt-4o"},
    }
    event.update(overrides)
    return event


def outcome(key: str, **overrides: object) -> dict[str, object]:
    event: dict[str, object] = {"idempotency_key": key, "customer": "acme", "outcome": "ticket_resolved",
                                "task_id": "ticket-1", "timestamp": "2026-10-05T11:00:00Z"}
    event.update(overrides)
    return event


@pytest.fixture
def meter(vendor):
    return MeterFactory.create(organization=vendor.organization)


def bill(vendor, event: OutcomeEvent) -> InvoiceLine:
    invoice = Invoice.objects.create(
        organization=vendor.organization, customer=vendor.customer, period_start=date(2026, 10, 1),
        period_end=date(2026, 11, 1), currency="USD", cutoff=datetime(2026, 11, 4, tzinfo=UTC),
    )
    return InvoiceLine.objects.create(
        organization=vendor.organization, invoice=invoice, position=1, task_id=event.task_id,
        outcome_type=event.outcome_type, outcome_event=event, service_period_start=date(2026, 10, 1),
        description="Ticket resolved: ticket-1", quantity=1, unit_price=Decimal("0.99"), amount=Decimal("0.99"),
    )


def trace(vendor, kind: str, key: str):
    response = vendor.api.get(f"/api/v1/{kind}/{key}/trace")
    assert response.status_code == 200, response.content
    return response.json()


def test_usage_trace_names_the_most_specific_rate_in_force_and_the_cost(vendor, meter) -> None:
    RateFactory.create(meter=meter, unit_cost=Decimal("1"), effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    specific = RateFactory.create(meter=meter, dimensions={"model": "gpt-4o"}, unit_cost=Decimal("2.50"),
                           effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    RateFactory.create(meter=meter, dimensions={"model": "gpt-4o"}, unit_cost=Decimal("9"),
                effective_from=datetime(2026, 12, 1, tzinfo=UTC))  # not yet in force
    vendor.api.post(USAGE, {"events": [usage("tenant/a/req-1")]})

    body = trace(vendor, "usage-events", "tenant/a/req-1")

    assert body["event"]["idempotency_key"] == "tenant/a/req-1"
    assert body["rate"]["matched"] is True
    assert body["rate"]["rate"]["id"] == specific.pk
    assert body["rate"]["rate"]["dimensions"] == {"model": "gpt-4o"}
    assert body["rate"]["cost"] == "5"  # 2,000,000 tokens at 2.50 per 1M
    assert body["task_id"] == "ticket-1"


@pytest.mark.parametrize(
    ("rates", "reason"),
    [([], "no_rate_for_meter"),
     ([{"effective_from": datetime(2027, 1, 1, tzinfo=UTC)}], "no_rate_effective"),
     ([{"dimensions": {"model": "claude"}, "dimension_count": 1}], "no_rate_matching_dimensions")],
)
def test_usage_trace_says_why_no_rate_matched(vendor, meter, rates, reason) -> None:
    for overrides in rates:
        RateFactory.create(meter=meter, **overrides)
    vendor.api.post(USAGE, {"events": [usage("u1")]})
    body = trace(vendor, "usage-events", "u1")
    assert body["rate"] == {**body["rate"], "matched": False, "reason": reason, "rate": None, "cost": None}


def test_usage_trace_follows_the_task_to_its_invoice_line_or_says_why_not(vendor, meter) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization)
    vendor.api.post(USAGE, {"events": [usage("u1"), usage("no-task", task_id=None), usage("lonely", task_id="t-9")]})
    assert trace(vendor, "usage-events", "no-task")["billing"]["reason"] == "no_task_id"
    assert trace(vendor, "usage-events", "lonely")["billing"]["reason"] == "task_has_no_billable_outcome"
    assert trace(vendor, "usage-events", "u1")["billing"]["reason"] == "task_has_no_billable_outcome"

    vendor.api.post(OUTCOMES, {"events": [outcome("o1")]})
    assert trace(vendor, "usage-events", "u1")["billing"]["reason"] == "period_not_billed"

    line = bill(vendor, OutcomeEvent.objects.get(idempotency_key="o1"))
    billing = trace(vendor, "usage-events", "u1")["billing"]
    assert billing["reason"] is None
    assert billing["lines"][0]["line"]["id"] == line.pk
    assert billing["lines"][0]["invoice"] == {"id": line.invoice_id, "number": None, "status": "draft",
                                              "period": "2026-10"}


def test_outcome_trace_shows_history_and_the_line_that_billed_it(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_window_hours=0)
    vendor.api.post(OUTCOMES, {"events": [outcome("o1"), outcome("o2", task_id="t2")]})
    assert trace(vendor, "outcome-events", "o1")["billing"]["reason"] == "period_not_billed"

    line = bill(vendor, OutcomeEvent.objects.get(idempotency_key="o1"))
    vendor.api.post(f"{OUTCOMES}/o2/reverse", {"reason": "ticket reopened"})

    billed = trace(vendor, "outcome-events", "o1")
    assert billed["billing"]["lines"][0]["line"]["id"] == line.pk
    assert billed["billing"]["reason"] is None
    reversed_ = trace(vendor, "outcome-events", "o2")
    assert reversed_["billing"] == {"lines": [], "reason": "reversed", "detail": "Reversed: ticket reopened"}
    assert [(s["from_status"], s["to_status"]) for s in reversed_["history"]] == [("pending", "reversed")]


def test_outcome_trace_says_pending_until_verifiable(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_window_hours=72)
    now = datetime.now(UTC) - timedelta(hours=1)
    vendor.api.post(OUTCOMES, {"events": [outcome("o1", timestamp=now.isoformat())]})
    body = trace(vendor, "outcome-events", "o1")
    assert body["billing"]["reason"] == "pending"
    assert body["event"]["status"] == "pending"


def test_traces_are_404_for_unknown_keys_and_for_another_organization(vendor, stranger, meter) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization)
    vendor.api.post(USAGE, {"events": [usage("u1")]})
    vendor.api.post(OUTCOMES, {"events": [outcome("o1")]})
    for kind, key in [("usage-events", "u1"), ("outcome-events", "o1")]:
        assert stranger.api.get(f"/api/v1/{kind}/{key}/trace").status_code == 404
        missing = vendor.api.get(f"/api/v1/{kind}/missing/trace")
        assert missing.status_code == 404
        assert "idempotency_key" in missing.json()["errors"]
