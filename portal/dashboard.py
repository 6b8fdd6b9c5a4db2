"""The ROI dashboard's figures and charts, shared by the vendor's customer page and the customer's own."""

from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from accounts.models import Customer, Organization
from billing.models import RoiReport
from billing.selectors.roi import roi_figures, roi_get, roi_list, roi_period_list
from core.errors import DomainError, NotFound
from core.periods import Period, period_parse
from outcomes.selectors import outcome_type_names
from portal.charts import BarChart, HBarChart, Series, grouped_bar_chart, horizontal_bar_chart

# What a customer may read of an ROI report; everything else (cost, margin, unbilled cost) is the vendor's.
CUSTOMER_FIGURES = ("period", "currency", "outcomes", "tasks", "value_delivered", "billed", "roi")


def visible_figures(report: RoiReport, *, sees_cost: bool) -> dict[str, Any]:
    figures = roi_figures(report)
    if not sees_cost:
        return {key: figures[key] for key in CUSTOMER_FIGURES}
    margin = figures["margin"]
    billed = figures["billed"]
    figures["margin_rate"] = (margin / billed) if margin is not None and billed else None
    return figures


@dataclass
class Dashboard:
    customer: Customer
    periods: list[Period]
    period: Period | None
    error: str | None
    figures: dict[str, Any] | None
    outcome_count: int
    outcomes_chart: HBarChart | None
    trend_chart: BarChart | None
    trend: list[dict[str, Any]]
    sees_cost: bool


def roi_dashboard(
    *, organization: Organization, customer: Customer, period_text: str | None, sees_cost: bool
) -> Dashboard:
    periods = roi_period_list(customer=customer)
    period: Period | None = periods[0] if periods else None
    error = None
    if period_text:
        try:
            period = period_parse(period_text)
        except DomainError as exc:
            error = exc.message
    report: RoiReport | None = None
    if period is not None:
        with suppress(NotFound):
            report = roi_get(customer=customer, period=period)
    if period is not None and report is None and periods:
        error = error or f"No ROI report for {period.label} yet: it appears after that period's billing run."
    if report is None or period is None:
        return Dashboard(customer, periods, period, error, None, 0, None, None, [], sees_cost)

    figures = visible_figures(report, sees_cost=sees_cost)
    names = outcome_type_names(organization_id=organization.pk)
    outcomes_chart = horizontal_bar_chart(
        items=[(names.get(code, code), int(count)) for code, count in report.outcomes.items()]
    )
    history = roi_list(customer=customer, until=period)
    trend = [visible_figures(item, sees_cost=sees_cost) for item in history]
    series = [
        Series("Value delivered", "s1", [row["value_delivered"] for row in trend]),
        Series("Billed", "s2", [row["billed"] for row in trend]),
    ]
    if sees_cost:
        series.append(
            Series(
                "Cost to serve",
                "s3",
                [row["cost_to_serve"] if row["cost_currency"] == row["currency"] else None for row in trend],
            )
        )
    trend_chart = grouped_bar_chart(
        categories=[row["period"] for row in trend],
        series=series,
        unit=report.currency,
    )
    outcome_count = sum(int(count) for count in report.outcomes.values())
    return Dashboard(
        customer,
        periods,
        period,
        error,
        figures,
        outcome_count,
        outcomes_chart,
        trend_chart,
        list(reversed(trend)),
        sees_cost,
    )


ROI_EXPORT_KEYS = ("period", "currency", "value_delivered", "billed", "roi", "tasks")
ROI_EXPORT_COST_KEYS = ("cost_to_serve", "cost_currency", "margin", "cost_per_outcome", "unbilled_cost",
                        "unbilled_tasks")  # the vendor's columns only


def roi_export_rows(
    *, customer: Customer, sees_cost: bool, periods: int = 36
) -> tuple[list[str], list[list[Any]]]:
    """The ROI history as CSV rows, newest period first, one column per outcome type."""
    reports = roi_list(customer=customer, periods=periods)
    codes = sorted({code for report in reports for code in report.outcomes})
    keys = ROI_EXPORT_KEYS + (ROI_EXPORT_COST_KEYS if sees_cost else ())
    header = [*keys, *(f"outcomes:{code}" for code in codes)]
    rows = []
    for report in reversed(reports):
        figures = visible_figures(report, sees_cost=sees_cost)
        rows.append([*(figures[key] for key in keys), *(report.outcomes.get(code, 0) for code in codes)])
    return header, rows


def margin_rate(billed: Decimal | None, cost: Decimal | None) -> Decimal | None:
    if billed is None or cost is None or not billed:
        return None
    return (billed - cost) / billed
