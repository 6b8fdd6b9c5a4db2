"""The vendor console's home: the organization's dashboard (billing.selectors.dashboard) with its charts."""

from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from billing.selectors.aging import BUCKET_LABELS
from billing.selectors.dashboard import VendorDashboard, vendor_dashboard
from core.errors import DomainError
from core.periods import Period, period_parse
from outcomes.selectors import outcome_type_names
from portal.access import scope_of, vendor_required
from portal.charts import BarChart, HBarChart, Series, grouped_bar_chart, horizontal_bar_chart


def _charts(dashboard: VendorDashboard, currency: str, names: dict[str, str]) -> tuple[BarChart, HBarChart]:
    trend = dashboard.trend[currency]
    money_chart = grouped_bar_chart(
        categories=[item.period.label for item in trend],
        series=[
            Series("Billed", "s1", [item.billed for item in trend]),
            Series("Collected", "s2", [item.collected for item in trend]),
            Series("Outstanding", "s3", [item.outstanding for item in trend]),
            Series("Overdue", "s4", [item.overdue for item in trend]),
        ],
        unit=currency,
    )
    current = trend[-1]
    outcomes_chart = horizontal_bar_chart(
        items=[(names.get(code, code), count) for code, count in current.outcomes.items()]
    )
    return money_chart, outcomes_chart


@vendor_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    now = timezone.now()
    period, error = Period.of(now), None
    if request.GET.get("period"):
        try:
            period = period_parse(request.GET["period"])
        except DomainError as exc:
            error = exc.message
    dashboard = vendor_dashboard(organization=scope.organization, period=period, now=now)
    names = outcome_type_names(organization_id=scope.organization.pk)
    sections = []
    for currency in dashboard.currencies:
        money_chart, outcomes_chart = _charts(dashboard, currency, names)
        sections.append(
            {
                "currency": currency,
                "current": dashboard.current(currency),
                "trend": list(reversed(dashboard.trend[currency])),
                "money_chart": money_chart,
                "outcomes_chart": outcomes_chart,
            }
        )
    receivable_totals = {
        currency: {
            "outstanding": sum(buckets.values(), Decimal(0)),
            "overdue": sum(buckets.values(), Decimal(0)) - buckets["current"],
            "buckets": [(BUCKET_LABELS[key], amount) for key, amount in buckets.items()],
        }
        for currency, buckets in dashboard.receivables.totals.items()
    }
    return render(
        request,
        "portal/dashboard.html",
        {
            "scope": scope,
            "dashboard": dashboard,
            "period": period,
            "error": error,
            "sections": sections,
            "receivables": receivable_totals,
        },
    )
