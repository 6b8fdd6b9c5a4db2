"""ROI reports: one per customer and period, written by reconciliation; the figures people see."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from accounts.models import Customer, Organization
from billing.models import Invoice, RoiReport
from core.errors import NotFound
from core.money import round_money
from core.periods import Period


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


def roi_figures(report: RoiReport) -> dict[str, Any]:
    """The ROI figures as shown to people: money rounded to the minor unit here, for display only."""
    outcome_count = sum(report.outcomes.values())
    cost = report.cost_to_serve
    cost_currency = report.cost_currency or report.currency
    same_currency = cost_currency == report.currency
    return {
        "period": report.period_start.strftime("%Y-%m"),
        "currency": report.currency,
        "cost_currency": cost_currency,
        "outcomes": report.outcomes,
        "tasks": report.tasks,
        "unbilled_tasks": report.unbilled_tasks,
        "value_delivered": round_money(report.value_delivered, report.currency),
        "billed": round_money(report.billed, report.currency),
        "cost_to_serve": round_money(cost, cost_currency),
        "margin": round_money(report.billed - cost, report.currency) if same_currency else None,
        "cost_per_outcome": round_money(cost / outcome_count, cost_currency) if outcome_count else None,
        "roi": (report.value_delivered / report.billed).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        if report.billed else None,
        "unbilled_cost": round_money(report.unbilled_cost, cost_currency),
    }


def customer_period_list(*, organization: Organization, period: Period) -> QuerySet[Customer]:
    """Customers with their invoice and ROI figures for `period`: one query, however many customers."""
    invoice = Invoice.objects.filter(customer=OuterRef("pk"), period_start=period.start)
    roi = RoiReport.objects.filter(customer=OuterRef("pk"), period_start=period.start)
    return (
        Customer.objects.filter(organization=organization)
        .annotate(
            invoice_id=Subquery(invoice.values("pk")[:1]),
            invoice_status=Subquery(invoice.values("status")[:1]),
            invoice_total=Subquery(invoice.values("total")[:1]),
            invoice_currency=Subquery(invoice.values("currency")[:1]),
            roi_value=Subquery(roi.values("value_delivered")[:1]),
            roi_billed=Subquery(roi.values("billed")[:1]),
            roi_cost=Subquery(roi.values("cost_to_serve")[:1]),
            roi_cost_currency=Subquery(roi.values("cost_currency")[:1]),
            roi_currency=Subquery(roi.values("currency")[:1]),
        )
        .order_by("name", "external_id")
    )
