"""Margin guardrails: a ceiling on a task's cost to serve as a share of its outcome's price. A running
agent asks `task_budget` before each step; a task over its ceiling is recorded once (BudgetAlert), for
the efficiency page and, once webhooks list a budget event type, a webhook."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Customer, Organization
from billing.selectors.account import outcome_prices, price_book_in_force
from core.errors import DomainError
from core.money import round_money
from core.periods import Period
from metering.breakdown import task_cost_so_far
from metering.selectors import task_costs
from outcomes.history import task_outcome_type, task_outcomes_in
from outcomes.selectors import outcome_types_by_id
from value.models import BudgetAlert, MarginGuardrail

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


def _ceiling(*, customer: Customer, type_id: int, types: dict[int, object], share: Decimal, at: datetime
             ) -> tuple[Decimal, str]:
    """share × the price of one outcome of the type under the customer's book in force (its first unit)."""
    book = price_book_in_force(customer_id=customer.pk, period_start=Period.of(at).start)
    currency = book.currency if book else customer.currency
    price = outcome_prices(book=book, types={type_id: types[type_id]})[type_id]  # type: ignore[dict-item]
    first, _, _ = price.exact_amount(1, 1)
    return round_money(share * first, currency), currency


def task_budget(*, customer: Customer, task_id: str, outcome: str | None = None, now: datetime | None = None
                ) -> Budget:
    """Whether a task is still within its type's guardrail: its cost so far against the ceiling."""
    now = now or timezone.now()
    types = outcome_types_by_id(organization_id=customer.organization_id)
    if outcome:
        type_id = next((pk for pk, t in types.items() if t.code == outcome), None)
        if type_id is None:
            raise DomainError(f"No outcome type {outcome!r}.", field="outcome")
    else:
        type_id = task_outcome_type(customer_id=customer.pk, task_id=task_id)
        if type_id is None:
            raise DomainError("The task has no outcome yet: name the outcome type it works toward.", field="outcome")
    guardrail = MarginGuardrail.objects.filter(outcome_type_id=type_id).first()
    costs = task_cost_so_far(organization_id=customer.organization_id, customer_id=customer.pk, task_id=task_id,
                             now=now)
    if guardrail is None:
        currency = customer.currency
        return Budget(task_id, types[type_id].code, costs.get(currency, ZERO), None, currency)
    ceiling, currency = _ceiling(customer=customer, type_id=type_id, types=types,  # type: ignore[arg-type]
                                 share=guardrail.max_cost_share, at=now)
    budget = Budget(task_id, types[type_id].code, costs.get(currency, ZERO), ceiling, currency)
    if not budget.within:
        budget_alert_record(customer=customer, task_id=task_id, outcome_type_id=type_id, budget=budget)
    return budget


def budget_alert_record(*, customer: Customer, task_id: str, outcome_type_id: int, budget: Budget) -> bool:
    """Record a crossing once per task and type; True when this call recorded it."""
    try:
        with transaction.atomic():
            BudgetAlert.objects.create(
                organization_id=customer.organization_id, customer=customer, task_id=task_id,
                outcome_type_id=outcome_type_id, cost=budget.cost_so_far, ceiling=budget.ceiling or ZERO,
                currency=budget.currency)
    except IntegrityError:
        return False
    return True


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
                ceiling, currency = _ceiling(customer=customer, type_id=type_id, types=types,  # type: ignore[arg-type]
                                             share=shares[type_id], at=now)
                if row.currency == currency and row.cost > ceiling:
                    budget = Budget(row.task_id or "", types[type_id].code, row.cost, ceiling, currency)
                    recorded += budget_alert_record(customer=customer, task_id=budget.task_id,
                                                    outcome_type_id=type_id, budget=budget)
    return recorded
