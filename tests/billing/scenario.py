"""Build billing scenarios through the real services (the same paths the API uses)."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from accounts.models import Customer, Organization
from billing.models import Invoice
from billing.services.reconcile import reconcile_customer
from core.periods import Period, period_parse
from metering.ingestion import usage_events_ingest
from outcomes.ingestion import outcome_events_ingest

OCTOBER = period_parse("2026-10")
NOVEMBER = period_parse("2026-11")


def at(day: int, hour: int = 12, month: int = 10, year: int = 2026) -> str:
    return datetime(year, month, day, hour, tzinfo=UTC).isoformat()


def post_outcomes(organization: Organization, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps({"events": events}).encode()
    return outcome_events_ingest(organization_id=organization.pk, body=body).as_dict()


def post_usage(organization: Organization, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps({"events": events}).encode()
    return usage_events_ingest(organization_id=organization.pk, body=body).as_dict()


def outcomes(customer: Customer, count: int, *, day: int = 5, month: int = 10, outcome: str = "ticket_resolved",
             prefix: str = "o") -> list[dict[str, Any]]:
    return [
        {"idempotency_key": f"{prefix}{i}", "customer": customer.external_id, "outcome": outcome,
         "task_id": f"{prefix}-task-{i}", "timestamp": at(day, hour=i % 24, month=month)}
        for i in range(count)
    ]


def reconcile(customer: Customer, period: Period = OCTOBER) -> Invoice:
    return reconcile_customer(customer_id=customer.pk, period=period)


def line_tuples(invoice: Invoice) -> list[tuple[Any, ...]]:
    return [
        (line.kind, line.task_id, line.outcome_event_id, line.service_period_start, line.quantity, line.unit_price,
         line.amount, line.cost)
        for line in invoice.lines.order_by("position")
    ]


def money(value: str) -> Decimal:
    return Decimal(value)
