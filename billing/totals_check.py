"""The invoices' stored totals (InvoiceLineGroup, InvoiceTaskTotal, kept by the line trigger of billing
migration 0012) against a plain GROUP BY of their lines: `manage.py verify_rollups` runs it for a
period's invoices beside the rollups' check, and the tests hold every kind of write to it."""

from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, Count, F, Max, Min, Sum, Value, When
from django.db.models.functions import Coalesce

from billing.models import InvoiceLine, InvoiceLineGroup, InvoiceTaskTotal

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


def invoice_totals_differences(invoice_ids: list[int]) -> list[str]:
    """One sentence per stored total that differs from its lines' (an empty list: they agree)."""
    differences = []
    for name, stored, lines in (
        ("line group", line_groups_stored(invoice_ids), line_groups_from_lines(invoice_ids)),
        ("task total", task_totals_stored(invoice_ids), task_totals_from_lines(invoice_ids)),
    ):
        for key in sorted(set(stored) | set(lines), key=str):
            if stored.get(key) != lines.get(key):
                differences.append(f"invoice {key[0]} {name} {key[1:]}: stored {stored.get(key)}, "
                                   f"lines {lines.get(key)}")
    return differences
