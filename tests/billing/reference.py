"""Reference definitions read straight from the invoice lines, to hold the stored totals to: what
InvoiceLineGroup and InvoiceTaskTotal keep (billing migration 0012, checked against the lines by
billing.totals_check) and what the ROI figures derive from them must equal what a scan of the lines gives."""

from datetime import date
from decimal import Decimal

from django.db.models import Count, Exists, Max, OuterRef, QuerySet
from django.db.models.functions import Coalesce

from billing.models import CreditNoteLine, Invoice, InvoiceLine
from billing.totals_check import line_groups_from_lines, line_groups_stored, task_totals_from_lines, task_totals_stored
from outcomes.enums import OutcomeStatus

__all__ = ["billed_tasks_from_lines", "line_groups_from_lines", "line_groups_stored", "standing_lines",
           "task_totals_from_lines", "task_totals_stored"]


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
