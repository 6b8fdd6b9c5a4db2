"""ROI figures: one customer's period as people see it, on every page, export and API answer.

One definition, computed by `period_figures_list` from the documents themselves:

- billed: what was charged for the period, wherever it was charged: the period's own invoice (its
  lines for the period, prepaid drawdown excluded: that is how it was paid, not what was billed), late
  charges for the period on later invoices, and credits attributed back to the period they correct
  (reversal credit lines on later invoices, credit notes). Void invoices and their credit notes count
  for nothing.
- outcomes and value delivered: the period's outcome lines still standing: an outcome reversed,
  credited by a later line or by a credit note leaves its period's count and value. One outcome is worth
  the customer's baseline in force for its type and period (the value app's, named by the setting
  ROI_VALUE_BASIS; `value_basis` says which version and whether it was approved), else the type's estimate.
- cost to serve: all usage of the period, billed tasks or not (as of the period's last reconciliation,
  kept on its RoiReport), in two labelled parts: the cost of the tasks billed (each standing outcome
  line's task, once) and the unbilled cost (the rest).
- margin: billed minus cost to serve.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils.module_loading import import_string

from accounts.models import Customer, Organization
from billing.audience import Audience, visible_fields
from billing.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceLineGroup,
    InvoiceTaskTotal,
    RoiReport,
)
from core.api.fields import decimal_str
from core.errors import NotFound
from core.money import minor_unit, round_money
from core.periods import Period
from outcomes.enums import OutcomeStatus

ZERO = Decimal(0)
# Outcomes that no longer count for their period (credited, or reversed with the credit due).
NOT_STANDING = [OutcomeStatus.REVERSED, OutcomeStatus.CREDITED]


@dataclass
class PeriodFigures:
    """One customer's period, unrounded; `as_dict` rounds each money figure once for display."""

    customer_id: int
    period: Period
    currency: str
    cost_currency: str
    tasks: int
    cost_to_serve: Decimal
    outcomes: dict[str, int] = field(default_factory=dict)
    value_delivered: Decimal = ZERO
    billed_on_invoice: Decimal = ZERO
    billed_later: Decimal = ZERO
    credited: Decimal = ZERO  # zero or negative
    cost_of_billed_tasks: Decimal = ZERO
    billed_tasks: int = 0
    # Per outcome type: count, unit_value, value, basis ("baseline" or "estimate") and the baseline used.
    value_basis: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def billed(self) -> Decimal:
        return self.billed_on_invoice + self.billed_later + self.credited

    @property
    def outcome_count(self) -> int:
        return sum(self.outcomes.values())

    def add_value(self, *, code: str, count: int, estimate: Decimal, baseline: dict[str, Any] | None) -> None:
        """`count` standing outcomes of a type: valued at the customer's baseline in force (a JSON object
        from ROI_VALUE_BASIS, used when it is in the report's currency), else at the type's estimate."""
        unit = estimate or ZERO
        used = baseline if baseline and baseline.get("currency") == self.currency else None
        if used is not None:
            unit = Decimal(used["unit_value"])
        self.value_delivered += unit * count
        basis = self.value_basis.setdefault(code, {"count": 0, "unit_value": unit, "value": ZERO})
        basis["count"] += count
        basis["value"] += unit * count
        basis["basis"] = "baseline" if used else "estimate"
        basis["baseline"] = (
            {"id": used["id"], "version": used["version"], "status": used["status"],
             "effective_from": str(used["effective_from"])[:7]} if used else None
        )

    def as_dict(self) -> dict[str, Any]:
        """Every figure, money rounded to the minor unit once; the cost's parts and the margin are derived
        from the rounded figures so that what a page shows adds up to the cent."""
        currency, cost_currency = self.currency, self.cost_currency
        billed = round_money(self.billed, currency)
        cost = round_money(self.cost_to_serve, cost_currency)
        cost_billed = round_money(self.cost_of_billed_tasks, cost_currency)
        count = self.outcome_count
        margin = billed - cost if cost_currency == currency else None
        return {
            "period": self.period.label,
            "currency": currency,
            "outcomes": dict(sorted(self.outcomes.items())),
            "tasks": self.tasks,
            "value_delivered": round_money(self.value_delivered, currency),
            "value_basis": {
                code: {**basis, "unit_value": decimal_str(basis["unit_value"], minor_unit(currency)),
                       "value": round_money(basis["value"], currency)}
                for code, basis in sorted(self.value_basis.items())
            },
            "billed": billed,
            "billed_on_invoice": round_money(self.billed_on_invoice, currency),
            "billed_later": round_money(self.billed_later, currency),
            "credited": round_money(self.credited, currency),
            "roi": (self.value_delivered / self.billed).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            if self.billed > 0 else None,
            "cost_currency": cost_currency,
            "cost_to_serve": cost,
            "cost_of_billed_tasks": cost_billed,
            "unbilled_cost": cost - cost_billed,
            "unbilled_tasks": max(self.tasks - self.billed_tasks, 0),
            "cost_per_outcome": round_money(self.cost_to_serve / count, cost_currency) if count else None,
            "margin": margin,
            "margin_rate": (margin / billed) if margin is not None and billed else None,
        }

    def visible(self, *, audience: Audience) -> dict[str, Any]:
        return visible_fields(self.as_dict(), audience=audience)


def period_figures_list(*, reports: list[RoiReport]) -> list[PeriodFigures]:
    """The figures of each report's customer and period, in the reports' order. Four queries however
    many customers and periods (the customers list, a trend, an export).

    They read the invoices' stored totals (InvoiceLineGroup, InvoiceTaskTotal: summed as the lines were
    written), not the lines: a period of a million outcomes is a handful of rows. The lines read are the
    exceptions, found by index: outcome lines no longer standing (their outcome reversed or credited,
    credited by a later line or by a credit note), whose counts are taken off the stored ones, and the
    tasks of those lines and of late lines, whose cost is counted again from their standing lines."""
    if not reports:
        return []
    figures = {
        (r.customer_id, r.period_start): PeriodFigures(
            customer_id=r.customer_id, period=Period(r.period_start), currency=r.currency,
            cost_currency=r.cost_currency or r.currency, tasks=r.tasks, cost_to_serve=r.cost_to_serve,
        )
        for r in reports
    }
    scope = _Scope(
        organization_ids=sorted({r.organization_id for r in reports}),
        customer_ids=sorted({key[0] for key in figures}),
        starts=sorted({key[1] for key in figures}),
    )
    # A period's lines sit on its own invoice or on later ones: older invoices need not be read.
    invoices = Q(invoice__customer_id__in=scope.customer_ids, invoice__period_start__gte=scope.starts[0])
    groups = (
        InvoiceLineGroup.objects.filter(invoices, service_period_start__in=scope.starts)
        .exclude(invoice__status=Invoice.Status.VOID)
        .annotate(own=ExpressionWrapper(Q(invoice__period_start=F("service_period_start")), BooleanField()))
        .values_list("invoice__customer_id", "service_period_start", "kind", "own", "outcome_type_id",
                     "outcome_type__code", "outcome_type__value")
        .annotate(total=Sum("amount"), count=Sum("line_count"))
    )
    basis = _value_basis()
    if basis is not None:  # the baseline in force per group, read in the same query
        groups = groups.annotate(basis=basis(customer="invoice__customer_id", outcome_type="outcome_type_id",
                                             period_start="service_period_start"))
    # (customer, period, outcome type) → [code, estimate, count of lines, baseline]
    outcome_lines: dict[tuple[int, date, int], list[Any]] = {}
    for customer_id, start, kind, own, type_id, code, estimate, total, count, *found in groups:
        item = figures.get((customer_id, start))
        if item is None:
            continue
        if kind == InvoiceLine.Kind.CREDIT:
            item.credited += total
        elif kind == InvoiceLine.Kind.PREPAID:
            pass  # how the period was paid, not what was billed
        elif own:
            item.billed_on_invoice += total
        else:
            item.billed_later += total
        if kind == InvoiceLine.Kind.OUTCOME and type_id is not None:
            entry = outcome_lines.setdefault((customer_id, start, type_id), [code, estimate, 0, None])
            entry[2] += count
            entry[3] = found[0] if found else None

    notes = (
        CreditNoteLine.objects.filter(credit_note__customer_id__in=scope.customer_ids)
        .exclude(credit_note__invoice__status=Invoice.Status.VOID)
        .annotate(attributed=Coalesce("invoice_line__service_period_start", "credit_note__invoice__period_start"))
        .filter(attributed__in=scope.starts)
        .values_list("credit_note__customer_id", "attributed")
        .annotate(total=Sum("amount"))
    )
    for customer_id, start, total in notes:
        if (item := figures.get((customer_id, start))) is not None:
            item.credited -= total

    exceptions = _exceptions(scope)
    for line in exceptions.lines:
        if line.gone and line.outcome_type_id is not None:
            if (counted := outcome_lines.get((line.customer_id, line.start, line.outcome_type_id))) is not None:
                counted[2] -= 1
    for (customer_id, start, _type_id), (code, estimate, count, baseline) in outcome_lines.items():
        if count > 0:
            item = figures[(customer_id, start)]
            item.outcomes[code] = item.outcomes.get(code, 0) + count
            item.add_value(code=code, count=count, estimate=estimate, baseline=baseline)

    for (customer_id, start, currency), (tasks, cost) in _billed_task_costs(scope, exceptions).items():
        item = figures.get((customer_id, start))
        if item is not None and currency == item.cost_currency:
            item.cost_of_billed_tasks = cost
        if item is not None:
            item.billed_tasks += tasks
    return [figures[(r.customer_id, r.period_start)] for r in reports]


def _value_basis() -> Callable[..., Any] | None:
    """What one outcome of a type is worth to its customer in a period, when an app provides it (setting
    ROI_VALUE_BASIS: the value app's customer-approved baselines); else each type's value estimate."""
    path = getattr(settings, "ROI_VALUE_BASIS", "")
    return import_string(path) if path else None


@dataclass(frozen=True)
class _Scope:
    organization_ids: list[int]
    customer_ids: list[int]
    starts: list[date]

    @property
    def params(self) -> dict[str, Any]:
        return {"organizations": self.organization_ids, "customers": self.customer_ids, "starts": self.starts,
                "first": self.starts[0]}


@dataclass(frozen=True)
class _ExceptionLine:
    """An outcome line of the figures' periods that the stored totals do not tell the whole of: `gone`,
    no longer standing, or late (on a later invoice than its period's), so its task may be on two."""

    id: int
    invoice_id: int
    customer_id: int
    start: date
    outcome_type_id: int | None
    task_id: str | None
    gone: bool


# The lines that no longer stand: their outcome reversed or credited (a partial index of outcome events
# finds the few), credited by a credit line of a live invoice (the credit groups' position ranges find
# those), or credited by a credit note. Late outcome lines are found by their groups' position ranges.
# The outcome events' table, reached through the lines' relation (billing reads outcomes' tables through
# its own models, never outcomes.models).
_OUTCOME_EVENTS = InvoiceLine._meta.get_field("outcome_event").related_model._meta.db_table
_EXCEPTIONS_SQL = f"""
WITH live AS (
  SELECT id, customer_id, period_start FROM {Invoice._meta.db_table}
   WHERE customer_id = ANY(%(customers)s) AND status <> 'void'
), gone AS (
  SELECT l.id FROM {_OUTCOME_EVENTS} e JOIN {InvoiceLine._meta.db_table} l
    ON l.organization_id = e.organization_id AND l.outcome_event_id = e.id
   WHERE e.organization_id = ANY(%(organizations)s) AND e.customer_id = ANY(%(customers)s)
     AND e.status IN ({", ".join(f"'{status}'" for status in NOT_STANDING)})
  UNION
  SELECT c.credited_line_id FROM {InvoiceLineGroup._meta.db_table} g JOIN live ON live.id = g.invoice_id
    JOIN {InvoiceLine._meta.db_table} c ON c.invoice_id = g.invoice_id
     AND c.position BETWEEN g.first_position AND g.last_position
   WHERE g.kind = 'credit' AND c.credited_line_id IS NOT NULL
  UNION
  SELECT n.invoice_line_id FROM {CreditNoteLine._meta.db_table} n
    JOIN {CreditNote._meta.db_table} note ON note.id = n.credit_note_id
   WHERE note.customer_id = ANY(%(customers)s) AND n.invoice_line_id IS NOT NULL
), late AS (
  SELECT l.id FROM {InvoiceLineGroup._meta.db_table} g JOIN live ON live.id = g.invoice_id
    JOIN {InvoiceLine._meta.db_table} l ON l.invoice_id = g.invoice_id
     AND l.position BETWEEN g.first_position AND g.last_position
   WHERE live.period_start >= %(first)s AND g.kind = 'outcome' AND g.service_period_start <> live.period_start
     AND g.service_period_start = ANY(%(starts)s)
), exceptional AS (
  SELECT l.id, l.invoice_id, live.customer_id, l.service_period_start, l.outcome_type_id, l.task_id,
         l.id IN (SELECT id FROM gone) AS gone
    FROM {InvoiceLine._meta.db_table} l JOIN live ON live.id = l.invoice_id
   WHERE l.id IN (SELECT id FROM gone UNION SELECT id FROM late)
     AND live.period_start >= %(first)s AND l.kind = 'outcome' AND l.service_period_start = ANY(%(starts)s)
), task_lines AS (  -- every outcome line of their tasks, found through the tasks' outcome events
  SELECT l.id, l.invoice_id, live.customer_id, l.service_period_start, l.task_id, l.cost_currency, l.cost
    FROM (SELECT DISTINCT customer_id, task_id FROM exceptional WHERE task_id IS NOT NULL) task
    JOIN {_OUTCOME_EVENTS} e ON e.organization_id = ANY(%(organizations)s)
     AND e.customer_id = task.customer_id AND e.task_id = task.task_id
    JOIN {InvoiceLine._meta.db_table} l ON l.organization_id = e.organization_id AND l.outcome_event_id = e.id
    JOIN live ON live.id = l.invoice_id
   WHERE live.period_start >= %(first)s AND l.kind = 'outcome' AND l.service_period_start = ANY(%(starts)s)
)
SELECT id, invoice_id, customer_id, service_period_start, outcome_type_id, task_id, gone, NULL, NULL
  FROM exceptional
UNION ALL
SELECT id, invoice_id, customer_id, service_period_start, NULL, task_id, NULL, cost_currency, cost FROM task_lines
"""


@dataclass(frozen=True)
class _Exceptions:
    lines: list[_ExceptionLine]
    # (line id, invoice, customer, period start, task, cost currency, cost) of every outcome line of the
    # exception lines' tasks
    task_lines: list[tuple[int, int, int, date, str, str, Decimal | None]]


def _exceptions(scope: _Scope) -> _Exceptions:
    with connection.cursor() as cursor:
        cursor.execute(_EXCEPTIONS_SQL, scope.params)
        rows = cursor.fetchall()
    return _Exceptions(
        lines=[_ExceptionLine(*row[:7]) for row in rows if row[6] is not None],
        task_lines=[(row[0], row[1], row[2], row[3], row[5], row[7], row[8]) for row in rows if row[6] is None],
    )


def _billed_task_costs(scope: _Scope, exceptions: _Exceptions) -> dict[tuple[int, date, str], list[Any]]:
    """(customer, period, cost currency) → [billed tasks, their cost]: each task of a standing outcome line
    once, at the most its standing lines carry (a task's lines carry the same cost; a late line may carry
    a later, larger one). The stored per-invoice totals are right for every task whose lines all stand
    on one invoice; the tasks of the exception lines are taken out of them and counted from their lines."""
    totals: dict[tuple[int, date, str], list[Any]] = {}
    stored = (
        InvoiceTaskTotal.objects.filter(invoice__customer_id__in=scope.customer_ids,
                                        invoice__period_start__gte=scope.starts[0],
                                        service_period_start__in=scope.starts)
        .exclude(invoice__status=Invoice.Status.VOID)
        .values_list("invoice__customer_id", "service_period_start", "cost_currency")
        .annotate(tasks=Sum("tasks"), cost=Sum("cost"))
    )
    for customer_id, start, currency, tasks, cost in stored:
        totals[(customer_id, start, currency)] = [tasks, cost]
    gone = {line.id for line in exceptions.lines if line.gone}
    stored_part: dict[tuple[int, int, date, str, str], Decimal] = {}  # per invoice, as the trigger summed
    standing_part: dict[tuple[int, date, str, str], Decimal] = {}
    for line_id, invoice_id, customer_id, start, task_id, currency, cost in exceptions.task_lines:
        key = (invoice_id, customer_id, start, currency, task_id)
        stored_part[key] = max(stored_part.get(key, ZERO), cost or ZERO)
        if line_id not in gone:
            standing_key = (customer_id, start, currency, task_id)
            standing_part[standing_key] = max(standing_part.get(standing_key, ZERO), cost or ZERO)
    for (_invoice_id, customer_id, start, currency, _task_id), cost in stored_part.items():
        total = totals.setdefault((customer_id, start, currency), [0, ZERO])
        total[0] -= 1
        total[1] -= cost
    for (customer_id, start, currency, _task_id), cost in standing_part.items():
        total = totals.setdefault((customer_id, start, currency), [0, ZERO])
        total[0] += 1
        total[1] += cost
    return totals


def roi_get(*, customer: Customer, period: Period) -> RoiReport:
    report = RoiReport.objects.filter(customer=customer, period_start=period.start).first()
    if report is None:
        raise NotFound(f"No ROI report for {period.label}: run billing for that period first.", field="period")
    return report


def roi_list(*, customer: Customer, until: Period | None = None, periods: int = 12) -> list[RoiReport]:
    """Up to `periods` reports ending with `until` (default: the latest), oldest first."""
    reports = RoiReport.objects.filter(customer=customer).order_by("-period_start")
    if until is not None:
        reports = reports.filter(period_start__lte=until.start)
    return list(reversed(reports[:periods]))


def roi_period_list(*, customer: Customer) -> list[Period]:
    """The periods that have an ROI report, newest first (for period pickers)."""
    starts = (
        RoiReport.objects.filter(customer=customer)
        .order_by("-period_start")
        .values_list("period_start", flat=True)
    )
    return [Period(start) for start in starts]


def roi_figures(report: RoiReport, *, audience: Audience = Audience.VENDOR) -> dict[str, Any]:
    """One report's figures as `audience` may see them, money rounded to the minor unit."""
    return period_figures_list(reports=[report])[0].visible(audience=audience)


def roi_figures_list(*, reports: list[RoiReport], audience: Audience) -> list[dict[str, Any]]:
    return [item.visible(audience=audience) for item in period_figures_list(reports=reports)]


def customer_period_list(*, organization: Organization, period: Period) -> QuerySet[Customer]:
    """Customers with their invoice for `period`: one query, however many customers. Their ROI figures
    come from `customer_figures` for the page of customers shown."""
    invoice = Invoice.objects.filter(customer=OuterRef("pk"), period_start=period.start)
    return (
        Customer.objects.filter(organization=organization)
        .annotate(
            invoice_id=Subquery(invoice.values("pk")[:1]),
            invoice_status=Subquery(invoice.values("status")[:1]),
            invoice_total=Subquery(invoice.values("total")[:1]),
            invoice_currency=Subquery(invoice.values("currency")[:1]),
        )
        .order_by("name", "external_id")
    )


def customer_figures(*, customer_ids: list[int], period: Period) -> dict[int, PeriodFigures]:
    """Each customer's figures for `period` (customers without a report are left out)."""
    reports = list(RoiReport.objects.filter(customer_id__in=customer_ids, period_start=period.start))
    return {item.customer_id: item for item in period_figures_list(reports=reports)}

