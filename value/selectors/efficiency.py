"""The efficiency report (the vendor's side of "stop tokenmaxxing"): per outcome type and period, tokens,
GPU-seconds and cost per outcome, by model; the trend; outlier tasks (cost far above their type's
median); and failed tasks' cost (tasks with usage and no standing outcome) as a share of all cost."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

from django.utils import timezone

from accounts.models import Customer, Organization
from core.periods import Period
from metering.breakdown import task_usage_costs
from metering.selectors import meters_by_id
from outcomes.history import task_outcomes_in
from outcomes.selectors import outcome_types_by_id
from value.models import BudgetAlert

ZERO = Decimal(0)
OUTLIER_FACTOR = Decimal(3)  # a task costing more than 3× its type's median cost per task
OUTLIERS_SHOWN = 25  # per period, costliest first: the page and the API list these, with the total count
TOKEN_UNITS = {"token", "tokens"}
GPU_UNITS = {"second", "seconds", "gpu-second", "gpu-seconds", "gpu_second", "gpu_seconds", "s"}


@dataclass
class TypeFigures:
    outcomes: int = 0
    tasks: int = 0
    tokens: Decimal = ZERO
    gpu_seconds: Decimal = ZERO
    cost: Decimal = ZERO
    by_model: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # cost by model

    @property
    def models(self) -> list[tuple[str, Decimal]]:
        """Cost by model, the largest first (a list: templates read a defaultdict's keys as items)."""
        return sorted(self.by_model.items(), key=lambda item: (-item[1], item[0]))

    def per_outcome(self, amount: Decimal) -> Decimal | None:
        return (amount / self.outcomes).quantize(Decimal("0.0001"), ROUND_HALF_UP) if self.outcomes else None


@dataclass(frozen=True)
class Outlier:
    customer: str
    task_id: str
    outcome_type: str
    cost: Decimal
    median: Decimal


@dataclass
class PeriodEfficiency:
    period: Period
    currency: str
    types: dict[str, TypeFigures] = field(default_factory=dict)
    total_cost: Decimal = ZERO
    failed_cost: Decimal = ZERO
    failed_tasks: int = 0
    outliers: list[Outlier] = field(default_factory=list)

    @property
    def failed_share(self) -> Decimal | None:
        if not self.total_cost:
            return None
        return (self.failed_cost / self.total_cost).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def budget_alert_list(*, organization: Organization, limit: int = 20) -> list[BudgetAlert]:
    """The latest tasks that crossed their type's margin guardrail, newest first."""
    return list(BudgetAlert.objects.filter(organization=organization).select_related("customer", "outcome_type")
                .order_by("-created_at", "-pk")[:limit])


def _model_of(dimensions: dict[str, object]) -> str:
    return str(dimensions.get("model") or dimensions.get("gpu_type") or dimensions.get("gpu") or "other")


def efficiency_report(*, organization: Organization, periods: list[Period], currency: str = "USD",
                      customers: list[Customer] | None = None) -> list[PeriodEfficiency]:
    """Oldest period first. Costs in `currency` only (usage priced in another currency is left out)."""
    customers = customers if customers is not None else list(Customer.objects.filter(organization=organization))
    types = outcome_types_by_id(organization_id=organization.pk)
    now = timezone.now()
    report = []
    meters: dict[int, object] = {}
    for period in sorted(periods, key=lambda p: p.start):
        result = PeriodEfficiency(period=period, currency=currency)
        claims = task_outcomes_in(organization_id=organization.pk, start=period.start_at, end=period.end_at)
        type_of: dict[tuple[int, str], int] = {}
        standing: set[tuple[int, str]] = set()
        outcome_counts: dict[int, int] = defaultdict(int)
        for claim in claims:
            key = (claim.customer_id, claim.task_id)
            type_of.setdefault(key, claim.outcome_type_id)
            if claim.standing:
                standing.add(key)
                outcome_counts[claim.outcome_type_id] += 1
        task_cost: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
        for customer in customers:
            rows = task_usage_costs(organization_id=organization.pk, customer_id=customer.pk, start=period.start_at,
                                    end=period.end_at, cutoff=now)
            missing = [r.meter_id for r in rows if r.meter_id not in meters]
            if missing:
                meters.update(meters_by_id(ids=missing))
            for row in rows:
                if row.currency != currency:
                    continue
                key = (customer.pk, row.task_id or "")
                result.total_cost += row.cost
                task_cost[key] += row.cost
                type_id = type_of.get(key) if key in standing else None
                if type_id is None:
                    continue
                figures = result.types.setdefault(types[type_id].code, TypeFigures())
                unit = getattr(meters[row.meter_id], "unit", "").lower()
                if unit in TOKEN_UNITS:
                    figures.tokens += row.quantity
                elif unit in GPU_UNITS or getattr(meters[row.meter_id], "code", "").startswith("gpu"):
                    figures.gpu_seconds += row.quantity
                figures.cost += row.cost
                figures.by_model[_model_of(row.dimensions)] += row.cost
        external = {c.pk: c.external_id for c in customers}
        per_type_tasks: dict[int, list[tuple[tuple[int, str], Decimal]]] = defaultdict(list)
        for key, cost in task_cost.items():
            if key in standing:
                per_type_tasks[type_of[key]].append((key, cost))
            else:
                result.failed_cost += cost
                result.failed_tasks += 1
        for type_id, count in outcome_counts.items():
            figures = result.types.setdefault(types[type_id].code, TypeFigures())
            figures.outcomes = count
            figures.tasks = len(per_type_tasks.get(type_id, []))
        for type_id, items in per_type_tasks.items():
            middle = Decimal(median([cost for _, cost in items]))
            for (customer_id, task_id), cost in items:
                if middle > 0 and cost > middle * OUTLIER_FACTOR:
                    result.outliers.append(Outlier(external[customer_id], task_id, types[type_id].code, cost, middle))
        result.outliers.sort(key=lambda o: -o.cost)
        report.append(result)
    return report


def efficiency_rows(report: list[PeriodEfficiency]) -> tuple[list[str], list[list[object]]]:
    """One row per period and outcome type, for the CSV and the API: the page shows the same numbers."""
    header = ["period", "outcome_type", "outcomes", "tasks", "tokens_per_outcome", "gpu_seconds_per_outcome",
              "cost_per_outcome", "cost", "currency", "failed_cost_share"]
    rows: list[list[object]] = []
    for item in report:
        for code, figures in sorted(item.types.items()):
            rows.append([item.period.label, code, figures.outcomes, figures.tasks, figures.per_outcome(figures.tokens),
                         figures.per_outcome(figures.gpu_seconds), figures.per_outcome(figures.cost),
                         figures.cost.quantize(Decimal("0.0001"), ROUND_HALF_UP), item.currency, item.failed_share])
    return header, rows
