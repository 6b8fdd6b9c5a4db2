from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet

from accounts.models import Customer, Organization
from billing.models import BillingRun, Invoice, RoiReport
from core.errors import NotFound
from core.money import round_money
from core.periods import Period


def invoice_list(*, organization: Organization, customer: Customer | None = None,
                 period: Period | None = None) -> QuerySet[Invoice]:
    invoices = Invoice.objects.filter(organization=organization).select_related("customer")
    if customer is not None:
        invoices = invoices.filter(customer=customer)
    if period is not None:
        invoices = invoices.filter(period_start=period.start)
    return invoices.order_by("-period_start", "customer__external_id")


def invoice_get(*, organization: Organization, invoice_id: int, customer: Customer | None = None) -> Invoice:
    invoices = Invoice.objects.filter(organization=organization, pk=invoice_id)
    if customer is not None:
        invoices = invoices.filter(customer=customer)
    invoice = (
        invoices.select_related("customer", "price_book")
        .prefetch_related("lines__outcome_type", "lines__outcome_event")
        .first()
    )
    if invoice is None:
        raise NotFound(f"No invoice {invoice_id}.", field="id")
    return invoice


def billing_run_get(*, organization: Organization, run_id: int) -> BillingRun:
    run = BillingRun.objects.filter(organization=organization, pk=run_id).select_related("customer").first()
    if run is None:
        raise NotFound(f"No billing run {run_id}.", field="id")
    return run


def roi_get(*, customer: Customer, period: Period) -> dict[str, object]:
    report = RoiReport.objects.filter(customer=customer, period_start=period.start).first()
    if report is None:
        raise NotFound(f"No ROI report for {period.label}: run billing for that period first.", field="period")
    return roi_figures(report)


def roi_figures(report: RoiReport) -> dict[str, object]:
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


def roi_trend(*, customer: Customer, periods: int = 12) -> list[dict[str, object]]:
    reports = RoiReport.objects.filter(customer=customer).order_by("-period_start")[:periods]
    return [roi_figures(report) for report in reversed(list(reports))]
