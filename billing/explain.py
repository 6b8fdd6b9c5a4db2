"""The event debugger's traces: for one event, what it cost, which task it fed, which invoice line billed it,
or why not. Lives in billing because only billing knows invoices; it reads metering and outcomes through
their selectors and never writes."""

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from accounts.models import Customer, Organization
from billing.models import InvoiceLine
from core.api.fields import decimal_str
from core.errors import NotFound
from core.periods import Period
from metering.selectors import rate_for_event, usage_event_by_key, usage_event_cost, usage_event_data
from outcomes.enums import OutcomeStatus
from outcomes.selectors import outcome_event_list, outcome_evidence

if TYPE_CHECKING:  # a type for annotations only: the event comes from outcomes.selectors
    from outcomes.models import OutcomeEvent

RATE_REASONS = {
    "no_rate_for_meter": "The meter has no rate: add one to count this event's cost.",
    "no_rate_effective": "The meter's rates all take effect after the event's time.",
    "no_rate_matching_dimensions": "No rate in force at the event's time has dimensions its properties contain.",
}
# Statuses that keep an outcome off invoices (it may still be credited on a later one).
UNBILLABLE = {OutcomeStatus.REVERSED, OutcomeStatus.DISPUTED}


def _line_data(line: InvoiceLine) -> dict[str, Any]:
    invoice = line.invoice
    return {
        "invoice": {"id": invoice.pk, "number": invoice.number, "status": invoice.status, "period": invoice.period},
        "line": {"id": line.pk, "position": line.position, "kind": line.kind, "description": line.description,
                 "amount": decimal_str(line.amount), "currency": invoice.currency},
    }


def usage_event_trace(*, organization: Organization, idempotency_key: str) -> dict[str, Any]:
    event = usage_event_by_key(organization_id=organization.pk, idempotency_key=idempotency_key)
    if event is None:
        raise NotFound(f"No usage event with idempotency_key {idempotency_key!r}.", field="idempotency_key")
    customer = Customer.objects.get(pk=event.customer_id)
    meter = event.meter
    match = rate_for_event(event=event)
    rate: dict[str, Any] = {"matched": match.rate is not None, "reason": match.reason,
                            "detail": RATE_REASONS.get(match.reason or ""), "rate": None, "cost": None}
    if match.rate is not None:
        found = match.rate
        rate["rate"] = {
            "id": found.pk, "dimensions": found.dimensions, "unit_cost": decimal_str(found.unit_cost),
            "per": decimal_str(found.per), "currency": found.currency, "effective_from": found.effective_from,
        }
        cost = usage_event_cost(event=event, rate=found)
        if cost is not None:
            rate["cost"] = decimal_str(cost)
        else:
            rate["detail"] = f"The meter aggregates by {meter.aggregation}: cost is priced per task, not per event."
    return {
        "event": usage_event_data(event, customer=customer.external_id, meter=meter.code),
        "rate": rate,
        "task_id": event.task_id,
        "billing": _usage_billing(organization=organization, customer=customer, task_id=event.task_id,
                                  timestamp=event.timestamp),
    }


def _usage_billing(
    *, organization: Organization, customer: Customer, task_id: str | None, timestamp: datetime
) -> dict[str, Any]:
    """The invoice lines of the event's task, or why there is none."""
    if not task_id:
        return {"lines": [], "reason": "no_task_id",
                "detail": "The event names no task, so it counts as cost to serve but feeds no invoice line."}
    lines = list(
        InvoiceLine.objects.filter(organization=organization, invoice__customer=customer, task_id=task_id)
        .select_related("invoice").order_by("invoice__period_start", "position")
    )
    if lines:
        return {"lines": [_line_data(line) for line in lines], "reason": None, "detail": None}
    outcomes = outcome_event_list(organization_id=organization.pk).filter(customer=customer, task_id=task_id)
    if not outcomes.exclude(status__in=UNBILLABLE).exists():
        return {"lines": [], "reason": "task_has_no_billable_outcome",
                "detail": f"Task {task_id!r} has no outcome that can be billed: its cost is unbilled cost."}
    period = Period.of(timestamp)
    return {"lines": [], "reason": "period_not_billed",
            "detail": f"The task's outcome has not been on an invoice yet (period {period.label})."}


def outcome_event_trace(*, organization: Organization, idempotency_key: str) -> dict[str, Any]:
    event = (
        outcome_event_list(organization_id=organization.pk).filter(idempotency_key=idempotency_key).first()
    )
    if event is None:
        raise NotFound(f"No outcome event with idempotency_key {idempotency_key!r}.", field="idempotency_key")
    history = [
        {"from_status": step.from_status, "to_status": step.to_status, "reason": step.reason,
         "actor": step.actor_label or (step.actor_user.username if step.actor_user else ""), "at": step.created_at}
        for step in event.transitions.filter(organization_id=event.organization_id)
        .select_related("actor_user").order_by("created_at", "pk")
    ]
    lines = list(InvoiceLine.objects.filter(outcome_event=event).select_related("invoice").order_by("pk"))
    return {
        "event": {
            "idempotency_key": event.idempotency_key, "customer": event.customer.external_id,
            "outcome": event.outcome_type.code, "task_id": event.task_id, "timestamp": event.timestamp,
            "status": event.status, "verifiable_at": event.verifiable_at, "received_at": event.received_at,
        },
        "history": history,
        "evidence": outcome_evidence(organization_id=organization.pk, events=[event])[event.pk].as_dict(),
        "billing": {"lines": [_line_data(line) for line in lines], **_outcome_reason(event, bool(lines))},
    }


def _outcome_reason(event: "OutcomeEvent", billed: bool) -> dict[str, str | None]:
    if billed:
        return {"reason": None, "detail": None}
    if event.status == OutcomeStatus.REVERSED:
        return {"reason": "reversed", "detail": f"Reversed: {event.reversal_reason}"}
    if event.status == OutcomeStatus.DISPUTED:
        return {"reason": "disputed", "detail": "Disputed by the customer: held out of billing until resolved."}
    verifiable_at = event.verifiable_at
    if event.status == OutcomeStatus.PENDING and verifiable_at is None:
        return {"reason": "pending", "detail": "Pending until evidence verifies it (its type's silence does not)."}
    if event.status == OutcomeStatus.PENDING and verifiable_at is not None and verifiable_at > timezone.now():
        return {"reason": "pending",
                "detail": f"Pending until its verification window ends at {verifiable_at.isoformat()}."}
    period = Period.of(event.timestamp)
    return {"reason": "period_not_billed", "detail": f"Period {period.label} has not been billed yet."}


