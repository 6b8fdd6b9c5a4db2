"""The vendor's dashboard: the organization's figures for a period and the trend up to it.

Each figure is read from the selector that defines it, summed over customers per currency (amounts in
different currencies are never added together):

- billed, value delivered, cost to serve, margin, outcomes by type: `billing.selectors.roi`
  (`period_figures_list`), the same figures as the customers list, the ROI pages, the ROI API and CSV,
  each customer's rounded figure summed, so the dashboard adds up to what those pages show.
- invoiced, collected, outstanding, overdue: the period's finalized and paid invoices (total, amount
  paid, amount due) by the open and overdue predicates of `billing.selectors.aging`.
- receivables today (outstanding and overdue over every period): `aging_report`, the aging page's totals.
- open disputes: outcomes' `dispute_list`; drafts due to finalize: `invoice_due_list`; billing runs
  that failed or are still going: `billing_run_list`.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import Organization
from billing.models import BillingRun, Invoice, RoiReport
from billing.selectors.aging import Aging, aging_report, invoice_open_q, invoice_overdue_q
from billing.selectors.invoices import invoice_due_list
from billing.selectors.roi import period_figures_list
from billing.selectors.runs import billing_run_list
from core.periods import Period
from outcomes.selectors import dispute_list

if TYPE_CHECKING:  # a type for annotations only: the rows come from the outcomes app's selector
    from outcomes.models import Dispute

ZERO = Decimal(0)
# Short lists on the dashboard link to their full pages.
LIST_LIMIT = 5
ISSUE_RUN_STATUSES = (BillingRun.Status.QUEUED, BillingRun.Status.RUNNING, BillingRun.Status.FAILED)


@dataclass
class PeriodTotals:
    """One period's figures in one currency."""

    period: Period
    currency: str
    customers: int = 0
    billed: Decimal = ZERO
    value_delivered: Decimal = ZERO
    cost_to_serve: Decimal = ZERO  # of customers whose cost is in `currency`
    margin: Decimal = ZERO
    outcomes: dict[str, int] = field(default_factory=dict)
    invoiced: Decimal = ZERO  # finalized and paid invoices' totals
    collected: Decimal = ZERO
    outstanding: Decimal = ZERO
    overdue: Decimal = ZERO
    draft_total: Decimal = ZERO  # drafts: not invoiced yet

    @property
    def outcome_count(self) -> int:
        return sum(self.outcomes.values())

    @property
    def margin_rate(self) -> Decimal | None:
        return self.margin / self.billed if self.billed else None


@dataclass
class VendorDashboard:
    period: Period
    today: datetime
    currencies: list[str]
    # currency -> the trend's periods, oldest first; the last one is `period`
    trend: dict[str, list[PeriodTotals]]
    receivables: Aging
    open_disputes: int
    oldest_disputes: list["Dispute"]
    drafts_due: int
    drafts_due_list: list[Invoice]
    runs: list[BillingRun]

    def current(self, currency: str) -> PeriodTotals:
        return self.trend[currency][-1]


def period_totals_list(
    *, organization: Organization, periods: list[Period], today: datetime
) -> dict[str, list[PeriodTotals]]:
    """Per currency, each of `periods` (oldest first) summed over the organization's customers."""
    totals: dict[tuple[str, Period], PeriodTotals] = {}

    def item(currency: str, period: Period) -> PeriodTotals:
        if (currency, period) not in totals:
            totals[(currency, period)] = PeriodTotals(period, currency)
        return totals[(currency, period)]

    starts = [period.start for period in periods]
    reports = list(
        RoiReport.objects.filter(organization=organization, period_start__in=starts)
        .order_by("customer_id", "period_start")
    )
    for figures in period_figures_list(reports=reports):
        shown: dict[str, Any] = figures.as_dict()
        total = item(figures.currency, figures.period)
        total.customers += 1
        total.billed += shown["billed"]
        total.value_delivered += shown["value_delivered"]
        if shown["cost_currency"] == figures.currency:
            total.cost_to_serve += shown["cost_to_serve"]
        if shown["margin"] is not None:
            total.margin += shown["margin"]
        for code, count in shown["outcomes"].items():
            total.outcomes[code] = total.outcomes.get(code, 0) + int(count)

    money = DecimalField(max_digits=20, decimal_places=6)
    due = F("total") - F("amount_paid")
    issued = Q(status__in=[Invoice.Status.FINALIZED, Invoice.Status.PAID])
    rows = (
        Invoice.objects.filter(organization=organization, period_start__in=starts)
        .values_list("period_start", "currency")
        .annotate(
            invoiced=Coalesce(Sum("total", filter=issued), Value(ZERO), output_field=money),
            collected=Coalesce(Sum("amount_paid", filter=issued), Value(ZERO), output_field=money),
            outstanding=Coalesce(Sum(due, filter=invoice_open_q()), Value(ZERO), output_field=money),
            overdue=Coalesce(Sum(due, filter=invoice_overdue_q(today.date())), Value(ZERO), output_field=money),
            drafts=Coalesce(Sum("total", filter=Q(status=Invoice.Status.DRAFT)), Value(ZERO), output_field=money),
        )
        .order_by()
    )
    for start, currency, invoiced, collected, outstanding, overdue, drafts in rows:
        total = item(currency, Period(start))
        total.invoiced, total.collected, total.draft_total = invoiced, collected, drafts
        total.outstanding, total.overdue = outstanding, overdue

    by_currency: dict[str, list[PeriodTotals]] = defaultdict(list)
    for currency in sorted({currency for currency, _ in totals}):
        by_currency[currency] = [item(currency, period) for period in periods]
    return dict(by_currency)


def vendor_dashboard(
    *, organization: Organization, period: Period, now: datetime, trend_periods: int = 6
) -> VendorDashboard:
    periods = [period.add(-back) for back in range(trend_periods - 1, -1, -1)]
    trend = period_totals_list(organization=organization, periods=periods, today=now)
    # The currency with the most billed first (usually the only one).
    currencies = sorted(trend, key=lambda currency: (-trend[currency][-1].billed, currency))
    disputes = dispute_list(organization_id=organization.pk, open_=True)
    due = invoice_due_list(organization=organization, now=now).select_related("customer")
    runs = billing_run_list(organization=organization).filter(status__in=ISSUE_RUN_STATUSES)
    return VendorDashboard(
        period=period,
        today=now,
        currencies=currencies,
        trend=trend,
        receivables=aging_report(organization=organization, today=now.date()),
        open_disputes=disputes.count(),
        oldest_disputes=list(disputes[:LIST_LIMIT]),
        drafts_due=due.count(),
        drafts_due_list=list(due[:LIST_LIMIT]),
        runs=list(runs[:LIST_LIMIT]),
    )
