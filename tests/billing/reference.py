"""Reference definitions read straight from the invoice lines, to hold the stored totals to: what
InvoiceLineGroup and InvoiceTaskTotal keep (billing migration 0012) and what the ROI figures derive from
them must equal what a scan of the lines gives."""

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, Count, Exists, F, Max, Min, OuterRef, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from billing.models import CreditNoteLine, Invoice, InvoiceLine, InvoiceLineGroup, InvoiceTaskTotal
from outcomes.enums import OutcomeStatus

GROUP_FIELDS = ("invoice_id", "kind", "service_period_start", "outcome_type_id", "meter_id", "tier", "unit_price")


def line_groups_from_lines(invoice_ids: list[int]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = (
        InvoiceLine.objects.filter(invoice_id__in=invoice_ids)
        .annotate(tier=Case(When(note__startswith="package ", then=Value("package")), default=F("note"),
                            output_field=CharField()))
        .values(*GROUP_FIELDS)
        .annotate(n=Count("pk"), q=Sum("quantity"), a=Sum("amount"), lo=Min("position"), hi=Max("position"),
                  d=Min("description"))
    )
    return {tuple(r[f] for f in GROUP_FIELDS): (r["n"], r["q"], r["a"], r["lo"], r["hi"], r["d"]) for r in rows}


def line_groups_stored(invoice_ids: list[int]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = InvoiceLineGroup.objects.filter(invoice_id__in=invoice_ids).values(
        *GROUP_FIELDS, "line_count", "quantity", "amount", "first_position", "last_position", "description")
    return {tuple(r[f] for f in GROUP_FIELDS): (r["line_count"], r["quantity"], r["amount"], r["first_position"],
                                                r["last_position"], r["description"]) for r in rows}


def task_totals_from_lines(invoice_ids: list[int]) -> dict[tuple[Any, ...], tuple[int, Decimal]]:
    per_task = (
        InvoiceLine.objects.filter(invoice_id__in=invoice_ids, kind=InvoiceLine.Kind.OUTCOME, task_id__isnull=False)
        .values_list("invoice_id", "service_period_start", "cost_currency", "task_id")
        .annotate(cost=Coalesce(Max("cost"), Decimal(0)))
    )
    totals: dict[tuple[Any, ...], tuple[int, Decimal]] = {}
    for invoice_id, start, currency, _task, cost in per_task:
        tasks, total = totals.get((invoice_id, start, currency), (0, Decimal(0)))
        totals[(invoice_id, start, currency)] = (tasks + 1, total + cost)
    return totals


def task_totals_stored(invoice_ids: list[int]) -> dict[tuple[Any, ...], tuple[int, Decimal]]:
    return {
        (t.invoice_id, t.service_period_start, t.cost_currency): (t.tasks, t.cost)
        for t in InvoiceTaskTotal.objects.filter(invoice_id__in=invoice_ids)
    }


def standing_lines(*, customer_id: int, start: date) -> QuerySet[InvoiceLine]:
    """The period's outcome lines still standing, as the ROI figures defined them before the totals."""
    credits = InvoiceLine.objects.filter(credited_line=OuterRef("pk")).exclude(invoice__status=Invoice.Status.VOID)
    return (
        InvoiceLine.objects.filter(invoice__customer_id=customer_id, invoice__period_start__gte=start,
                                   service_period_start=start, kind=InvoiceLine.Kind.OUTCOME)
        .exclude(invoice__status=Invoice.Status.VOID)
        .exclude(outcome_event__status__in=[OutcomeStatus.REVERSED, OutcomeStatus.CREDITED])
        .exclude(Exists(credits))
        .exclude(Exists(CreditNoteLine.objects.filter(invoice_line=OuterRef("pk"))))
    )


def billed_tasks_from_lines(*, customer_id: int, start: date) -> tuple[dict[str, int], int, Decimal]:
    """(standing outcomes per type code, billed tasks, their cost: each task once at its most)."""
    lines = standing_lines(customer_id=customer_id, start=start)
    outcomes = dict(lines.filter(outcome_type__isnull=False).values_list("outcome_type__code")
                    .annotate(n=Count("pk")).values_list("outcome_type__code", "n"))
    per_task = (lines.filter(task_id__isnull=False).values_list("task_id")
                .annotate(cost=Coalesce(Max("cost"), Decimal(0))).values_list("task_id", "cost"))
    costs = [cost for _task, cost in per_task]
    return outcomes, len(costs), sum(costs, Decimal(0))
