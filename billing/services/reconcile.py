"""Reconciliation: for one customer and period, join outcomes (value) and usage (cost) per task.

A function of the events and configuration as of a cutoff: the same cutoff gives the same invoice,
and a run replaces the draft in one transaction, so a crash mid-way leaves the previous draft.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Customer
from billing.models import Invoice, InvoiceLine, RoiReport
from billing.periods import Period
from config.errors import DomainError
from config.money import round_money
from metering.selectors import TaskCost, task_costs
from outcomes.selectors import billable_outcomes, outcome_types_by_id


@dataclass(frozen=True)
class CostIndex:
    by_task: dict[str | None, Decimal]
    currency: str
    total: Decimal


def _cost_index(costs: list[TaskCost], preferred_currency: str) -> CostIndex:
    """Costs in one currency: the customer's if any rate used it, else the most used rate currency."""
    by_currency: dict[str, dict[str | None, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in costs:
        if row.currency is not None:
            by_currency[row.currency][row.task_id] += row.cost
    if not by_currency:
        return CostIndex({}, preferred_currency, Decimal(0))
    currency = preferred_currency if preferred_currency in by_currency else max(
        by_currency, key=lambda code: len(by_currency[code])
    )
    tasks = dict(by_currency[currency])
    return CostIndex(tasks, currency, sum(tasks.values(), Decimal(0)))


def reconcile_customer(*, customer_id: int, period: Period, cutoff: datetime | None = None) -> Invoice:
    cutoff = cutoff or timezone.now()
    with transaction.atomic():
        # The customer row lock serialises runs for one customer: two at once yield one invoice.
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        invoice = Invoice.objects.filter(customer=customer, period_start=period.start).first()
        if invoice is not None and invoice.is_frozen:
            return invoice
        if invoice is None:
            invoice = Invoice(
                organization_id=customer.organization_id, customer=customer, period_start=period.start,
                period_end=period.end, currency=customer.currency,
            )
        invoice.cutoff = cutoff
        invoice.save()
        invoice.lines.all().delete()

        types = outcome_types_by_id(organization_id=customer.organization_id)
        outcomes = billable_outcomes(
            customer_id=customer.pk, start=period.start_at, end=period.end_at, cutoff=cutoff
        )
        costs = _cost_index(
            task_costs(
                organization_id=customer.organization_id, customer_id=customer.pk,
                start=period.start_at, end=period.end_at, cutoff=cutoff,
            ),
            customer.currency,
        )
        lines: list[InvoiceLine] = []
        counts: Counter[str] = Counter()
        value = Decimal(0)
        for position, outcome in enumerate(outcomes, start=1):
            outcome_type = types[outcome.outcome_type_id]
            if outcome_type.currency != customer.currency:
                raise DomainError(
                    f"Outcome type {outcome_type.code!r} is priced in {outcome_type.currency} but customer "
                    f"{customer.external_id!r} is billed in {customer.currency}.", field="currency",
                )
            unit_price = outcome_type.price
            lines.append(InvoiceLine(
                organization_id=customer.organization_id, invoice=invoice, position=position,
                kind=InvoiceLine.Kind.OUTCOME, task_id=outcome.task_id, outcome_type=outcome_type,
                outcome_event_id=outcome.event_id, service_period_start=period.start,
                description=f"{outcome_type.name}: {outcome.task_id}", quantity=Decimal(1),
                unit_price=unit_price, amount=round_money(unit_price, customer.currency),
                cost=costs.by_task.get(outcome.task_id, Decimal(0)), cost_currency=costs.currency,
            ))
            counts[outcome_type.code] += 1
            value += outcome_type.value
        InvoiceLine.objects.bulk_create(lines, batch_size=2000)
        invoice.subtotal = sum((line.amount for line in lines), Decimal(0))
        invoice.total = invoice.subtotal
        invoice.save(update_fields=["subtotal", "total", "updated_at"])

        billed_tasks = {line.task_id for line in lines}
        unbilled = {task: cost for task, cost in costs.by_task.items() if task not in billed_tasks}
        RoiReport.objects.update_or_create(
            customer=customer, period_start=period.start,
            defaults={
                "organization_id": customer.organization_id, "currency": customer.currency,
                "outcomes": dict(counts), "value_delivered": value, "billed": invoice.total,
                "cost_to_serve": costs.total, "cost_currency": costs.currency,
                "unbilled_cost": sum(unbilled.values(), Decimal(0)),
                "tasks": len(set(costs.by_task) | billed_tasks), "unbilled_tasks": len(unbilled),
                "computed_at": cutoff,
            },
        )
        return invoice
