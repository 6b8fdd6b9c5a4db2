"""The ROI dashboard's figures and charts, shared by the vendor's customer page and the customer's own."""

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from accounts.models import Customer, Organization
from billing.audience import Audience, sees_cost
from billing.models import RoiReport
from billing.selectors.roi import roi_figures_list, roi_get, roi_list, roi_period_list
from core.errors import DomainError, NotFound
from core.periods import Period, period_parse
from outcomes.selectors import outcome_type_names
from portal.charts import BarChart, HBarChart, Series, grouped_bar_chart, horizontal_bar_chart


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
    *, organization: Organization, customer: Customer, period_text: str | None, audience: Audience
) -> Dashboard:
    """The period's figures and the trend up to it, as `audience` may see them: the same figures, from
    the same function, as the ROI API and the CSV export."""
    vendor = sees_cost(audience)
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
        return Dashboard(customer, periods, period, error, None, 0, None, None, [], vendor)

    # The trend ends with the period shown: one computation gives both (the report is the last of it).
    trend = roi_figures_list(reports=roi_list(customer=customer, until=period), audience=audience)
    figures = trend[-1]
    names = outcome_type_names(organization_id=organization.pk)
    outcomes_chart = horizontal_bar_chart(
        items=[(names.get(code, code), int(count)) for code, count in figures["outcomes"].items()]
    )
    series = [
        Series("Value delivered", "s1", [row["value_delivered"] for row in trend]),
        Series("Billed", "s2", [row["billed"] for row in trend]),
    ]
    if vendor:
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
        unit=figures["currency"],
    )
    outcome_count = sum(int(count) for count in figures["outcomes"].values())
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
        vendor,
    )


ROI_EXPORT_KEYS = ("period", "currency", "value_delivered", "billed", "billed_on_invoice", "billed_later",
                   "credited", "roi", "tasks")
ROI_EXPORT_COST_KEYS = ("cost_currency", "cost_to_serve", "cost_of_billed_tasks", "unbilled_cost", "margin",
                        "cost_per_outcome", "unbilled_tasks")  # the vendor's columns only


def roi_export_rows(
    *, customer: Customer, audience: Audience, periods: int = 36
) -> tuple[list[str], list[list[Any]]]:
    """The ROI history as CSV rows, newest period first, one column per outcome type: the dashboard's
    figures, from the same function, with the columns `audience` may see."""
    trend = roi_figures_list(reports=roi_list(customer=customer, periods=periods), audience=audience)
    codes = sorted({code for figures in trend for code in figures["outcomes"]})
    keys = ROI_EXPORT_KEYS + (ROI_EXPORT_COST_KEYS if sees_cost(audience) else ())
    header = [*keys, *(f"outcomes:{code}" for code in codes)]
    rows = []
    for figures in reversed(trend):
        rows.append([*(figures[key] for key in keys), *(figures["outcomes"].get(code, 0) for code in codes)])
    return header, rows
