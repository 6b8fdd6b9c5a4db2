"""Margin guardrails: a ceiling on a task's cost to serve as a share of its outcome's price. A running
agent asks `task_budget` before each step; a task over its ceiling is recorded once (BudgetAlert), for
the efficiency page and, once webhooks list a budget event type, a webhook."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Customer, Organization
from billing.pricing import OutcomePrice
from billing.selectors.account import outcome_entry_in_force
from core.errors import DomainError
from core.money import round_money
from core.periods import Period
from metering.breakdown import task_cost_so_far
from metering.selectors import task_costs
from outcomes.history import task_outcome_type, task_outcomes_in
from outcomes.selectors import outcome_types_by_id
from rollups.task_cost import PERIODS_BACK, task_cost_so_far_rolled
from value.models import BudgetAlert, MarginGuardrail
from webhooks.events import EventType
from webhooks.services import event_emit

ZERO = Decimal(0)


@dataclass(frozen=True)
class Budget:
    task_id: str
    outcome: str
    cost_so_far: Decimal
    ceiling: Decimal | None  # None: no guardrail for the type
    currency: str

    @property
    def within(self) -> bool:
        return self.ceiling is None or self.cost_so_far <= self.ceiling


def guardrail_set(*, organization: Organization, outcome: str, max_cost_share: Decimal) -> MarginGuardrail:
    if not ZERO < max_cost_share <= Decimal(10):
        raise DomainError("A share between 0 (excluded) and 10 (1000%), e.g. 0.30.", field="max_cost_share")
    types = {t.code: t for t in outcome_types_by_id(organization_id=organization.pk).values()}
    if outcome not in types:
        raise DomainError(f"No outcome type {outcome!r}.", field="outcome")
    guardrail, _ = MarginGuardrail.objects.update_or_create(
        outcome_type_id=types[outcome].pk, defaults={"organization": organization, "max_cost_share": max_cost_share})
    return guardrail


def _ceiling(*, customer: Customer, type_id: int, default_price: Decimal, share: Decimal, at: datetime
             ) -> tuple[Decimal, str]:
    """share × the price of one outcome of the type under the customer's book in force (the price of
    its first charged outcome; the type's default price when the book has no entry for it)."""
    book, entry = outcome_entry_in_force(customer_id=customer.pk, period_start=Period.of(at).start,
                                         outcome_type_id=type_id)
    currency = book.currency if book else customer.currency
    price = OutcomePrice.from_entry(entry) if entry is not None else OutcomePrice(unit_price=default_price)
    first, _, _ = price.exact_amount(1, 1)
    return round_money(share * first, currency), currency


def task_budget(*, customer: Customer, task_id: str, outcome: str | None = None, now: datetime | None = None
                ) -> Budget:
    """Whether a task is still within its type's guardrail: its cost so far against the ceiling. A handful
    of small reads (the guardrail with its type, the rate card's shape and the rollups' cursor, the cost,
    the price): an agent asks before each step."""
    now = now or timezone.now()
    guardrails = MarginGuardrail.objects.filter(organization_id=customer.organization_id).select_related(
        "outcome_type")
    if outcome:
        guardrail = guardrails.filter(outcome_type__code=outcome).first()
        if guardrail is not None:
            type_id, code, default_price = guardrail.outcome_type_id, outcome, guardrail.outcome_type.price
        else:
            types = {t.code: t for t in outcome_types_by_id(organization_id=customer.organization_id).values()}
            if outcome not in types:
                raise DomainError(f"No outcome type {outcome!r}.", field="outcome")
            type_id, code, default_price = types[outcome].pk, outcome, types[outcome].price
    else:
        found = task_outcome_type(organization_id=customer.organization_id, customer_id=customer.pk,
                                  task_id=task_id)
        if found is None:
            raise DomainError("The task has no outcome yet: name the outcome type it works toward.", field="outcome")
        guardrail = guardrails.filter(outcome_type_id=found).first()
        by_id = outcome_types_by_id(organization_id=customer.organization_id)
        type_id, code, default_price = found, by_id[found].code, by_id[found].price
    costs = task_cost_so_far_rolled(organization_id=customer.organization_id, customer_id=customer.pk,
                                    task_id=task_id, now=now)
    if costs is None:  # the rollups are being re-rated: the raw events answer, slower
        costs = task_cost_so_far(organization_id=customer.organization_id, customer_id=customer.pk,
                                 task_id=task_id, since=Period.of(now).add(-PERIODS_BACK).start_at, now=now)
    if guardrail is None:
        currency = customer.currency
        return Budget(task_id, code, costs.get(currency, ZERO), None, currency)
    ceiling, currency = _ceiling(customer=customer, type_id=type_id, default_price=default_price,
                                 share=guardrail.max_cost_share, at=now)
    budget = Budget(task_id, code, costs.get(currency, ZERO), ceiling, currency)
    if not budget.within:
        budget_alert_record(customer=customer, task_id=task_id, outcome_type_id=type_id, budget=budget)
    return budget


def budget_alert_record(*, customer: Customer, task_id: str, outcome_type_id: int, budget: Budget) -> bool:
    """Record a crossing once per task and type (one INSERT … ON CONFLICT DO NOTHING: an agent over its
    budget asks again and again); True when this call recorded it."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {BudgetAlert._meta.db_table}
                (organization_id, customer_id, task_id, outcome_type_id, cost, ceiling, currency, created_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, now())
                ON CONFLICT (customer_id, task_id, outcome_type_id) DO NOTHING RETURNING id""",
            [customer.organization_id, customer.pk, task_id, outcome_type_id, budget.cost_so_far,
             budget.ceiling or ZERO, budget.currency],
        )
        recorded = cursor.fetchone() is not None
        if recorded:  # announced with the alert, in its transaction
            event_emit(organization_id=customer.organization_id, type=EventType.TASK_BUDGET_EXCEEDED, data={
                "customer": customer.external_id, "task_id": task_id, "outcome": budget.outcome,
                "cost_so_far": str(budget.cost_so_far), "ceiling": str(budget.ceiling), "currency": budget.currency,
            })
    return recorded


def guardrails_scan(*, now: datetime | None = None) -> int:
    """Beat: every task of the current period whose cost crossed its type's guardrail, recorded once."""
    now = now or timezone.now()
    period = Period.of(now)
    recorded = 0
    for organization_id in MarginGuardrail.objects.values_list("organization_id", flat=True).distinct():
        shares = dict(MarginGuardrail.objects.filter(organization_id=organization_id)
                      .values_list("outcome_type_id", "max_cost_share"))
        types = outcome_types_by_id(organization_id=organization_id)
        claims = task_outcomes_in(organization_id=organization_id, start=period.start_at, end=period.end_at)
        watched: dict[int, dict[str, int]] = {}
        for claim in claims:
            if claim.outcome_type_id in shares:
                watched.setdefault(claim.customer_id, {}).setdefault(claim.task_id, claim.outcome_type_id)
        for customer in Customer.objects.filter(pk__in=watched):
            costs = task_costs(organization_id=organization_id, customer_id=customer.pk, start=period.start_at,
                               end=period.end_at, cutoff=now)
            for row in costs:
                type_id = watched[customer.pk].get(row.task_id or "")
                if type_id is None:
                    continue
                ceiling, currency = _ceiling(customer=customer, type_id=type_id, default_price=types[type_id].price,
                                             share=shares[type_id], at=now)
                if row.currency == currency and row.cost > ceiling:
                    budget = Budget(row.task_id or "", types[type_id].code, row.cost, ceiling, currency)
                    recorded += budget_alert_record(customer=customer, task_id=budget.task_id,
                                                    outcome_type_id=type_id, budget=budget)
    return recorded
