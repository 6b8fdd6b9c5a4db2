"""A tenant with meters of every aggregation, rates with dimensions, an outcome type and a price book
with usage overage; and the comparison of rollup reads with raw-event reads."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import Customer, Organization
from billing.services.price_books import EntrySpec, MeterSpec, price_book_create
from core.periods import Period
from metering.ingestion import usage_events_ingest
from metering.models import Meter, Rate
from metering.selectors import task_costs
from metering.usage_totals import usage_totals
from outcomes.ingestion import outcome_events_ingest
from rollups.selectors import task_costs_rolled, usage_totals_rolled
from tests.factories import CustomerFactory, MeterFactory, OrganizationFactory, OutcomeTypeFactory, RateFactory

OCTOBER = Period(datetime(2026, 10, 1, tzinfo=UTC).date())
SEPTEMBER = OCTOBER.previous()
METERS = {"tokens": "sum", "calls": "count", "peak": "max", "seats": "latest", "users": "unique_count"}


@dataclass
class Tenant:
    organization: Organization
    customers: list[Customer]


def tenant_create(slug: str, customers: int = 2, latest: bool = True, unique: bool = True) -> Tenant:
    """`latest=False`: no meter aggregates "latest" (the fold then skips ordering its groups)."""
    organization = OrganizationFactory.create(slug=slug, name=slug)
    codes = {code: aggregation for code, aggregation in METERS.items()
             if (latest or aggregation != "latest") and (unique or aggregation != "unique_count")}
    meters = {
        code: MeterFactory.create(organization=organization, code=code, name=code, aggregation=aggregation,
                                  unique_property="user" if code == "users" else "")
        for code, aggregation in codes.items()
    }
    since = datetime(2026, 1, 1, tzinfo=UTC)
    for model, cost in (("a", "2.50"), ("b", "0.15")):
        RateFactory.create(meter=meters["tokens"], dimensions={"model": model}, unit_cost=Decimal(cost),
                           effective_from=since)
    RateFactory.create(meter=meters["tokens"], dimensions={}, unit_cost=Decimal("5"), effective_from=since)
    for code in [code for code in ("calls", "peak", "seats", "users") if code in meters]:
        RateFactory.create(meter=meters[code], unit_cost=Decimal("0.013"), per=Decimal(7), effective_from=since)
    OutcomeTypeFactory.create(organization=organization, verification_window_hours=0)
    rows = [CustomerFactory.create(organization=organization, external_id=f"c{n}", name=f"C{n}")
            for n in range(customers)]
    for customer in rows:
        price_book_create(customer=customer, effective_from=SEPTEMBER, currency="USD",
                          entries=[EntrySpec(outcome="ticket_resolved", unit_price=Decimal("0.90"))],
                          meters=[MeterSpec(meter=code, unit_price=Decimal("1.5"), per=Decimal(1000),
                                            included_quantity=Decimal(10)) for code in codes])
    return Tenant(organization, rows)


def usage_event(key: str, customer: str, meter: str, quantity: str, timestamp: datetime, task: str | None,
                model: str | None = None, user: str | None = None) -> dict[str, Any]:
    properties: dict[str, str] = {}
    if model:
        properties["model"] = model
    if user:
        properties["user"] = user
    event: dict[str, Any] = {"idempotency_key": key, "customer": customer, "meter": meter, "quantity": quantity,
                             "timestamp": timestamp.isoformat()}
    if task:
        event["task_id"] = task
    if properties:
        event["properties"] = properties
    return event


def post_usage(organization: Organization, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps({"events": events}).encode()
    return usage_events_ingest(organization_id=organization.pk, body=body).as_dict()


def post_outcomes(organization: Organization, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps({"events": events}).encode()
    return outcome_events_ingest(organization_id=organization.pk, body=body).as_dict()


def rate_add(organization: Organization, meter: str, effective_from: datetime, cost: str,
             dimensions: dict[str, str] | None = None) -> Rate:
    return RateFactory.create(meter=Meter.objects.get(organization=organization, code=meter),
                              dimensions=dimensions or {}, unit_cost=Decimal(cost), effective_from=effective_from)


def reads_differ(tenant: Tenant, periods: list[Period], cutoff: datetime | None = None) -> list[str]:
    """Every (customer, period) whose rollup reads differ from the raw-event reads."""
    cutoff = cutoff or timezone.now() + timedelta(hours=1)
    differences = []
    for customer in tenant.customers:
        for period in periods:
            raw_costs = sorted(task_costs(organization_id=tenant.organization.pk, customer_id=customer.pk,
                                          start=period.start_at, end=period.end_at, cutoff=cutoff),
                               key=lambda c: (c.task_id or "", c.currency or ""))
            rolled = task_costs_rolled(organization_id=tenant.organization.pk, customer_id=customer.pk,
                                       period=period, cutoff=cutoff)
            assert rolled is not None, "the rollups refused to answer"
            rolled_costs = sorted(rolled, key=lambda c: (c.task_id or "", c.currency or ""))
            if raw_costs != rolled_costs:
                differences.append(f"{customer.external_id} {period.label} costs: {raw_costs} != {rolled_costs}")
            raw_totals = usage_totals(customer_id=customer.pk, start=period.start_at, end=period.end_at,
                                      cutoff=cutoff)
            rolled_totals = usage_totals_rolled(organization_id=tenant.organization.pk, customer_id=customer.pk,
                                                period=period, cutoff=cutoff)
            if raw_totals != rolled_totals:
                differences.append(f"{customer.external_id} {period.label} totals: {raw_totals} != {rolled_totals}")
    return differences
