"""Vendor console: the pricing simulator (charts from portal/charts.py) and the efficiency report (+ CSV)."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts.selectors import customer_list
from billing.selectors.invoices import invoice_period_list
from core.errors import DomainError
from core.periods import Period, period_parse
from portal.access import scope_of, vendor_required
from portal.charts import Series, grouped_bar_chart
from portal.exports import csv_bytes
from value.api.tools import simulation_rows
from value.selectors.efficiency import budget_alert_list, efficiency_report, efficiency_rows

SCENARIO_LABELS = {"price_book": "Price book (per outcome)", "tokens": "Per token at markup",
                   "hybrid": "Hybrid (fee + outcomes + overage)"}


def _decimal(request: HttpRequest, name: str, default: str) -> Decimal:
    raw = (request.GET.get(name) or default).strip()
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise DomainError(f"{raw!r} is not a number.", field=name) from exc
    if not value.is_finite() or value < 0:
        raise DomainError("Must be 0 or more.", field=name)
    return value


def _periods(request: HttpRequest, organization: Any) -> list[Period]:
    chosen = [p for p in request.GET.getlist("period") if p]
    if chosen:
        return [period_parse(p, field="period") for p in chosen[:12]]
    known = invoice_period_list(organization=organization)
    return sorted(known[:3], key=lambda p: p.start) or [Period.of(timezone.now())]


@vendor_required
def simulator_page(request: HttpRequest) -> HttpResponse:
    """Side by side, per period: what the customer(s) would have paid and the vendor kept under each
    scenario. The same rows as POST /api/v1/simulations (value.api.tools.simulation_rows)."""
    scope = scope_of(request)
    error, rows, charts, totals = None, [], {}, {}
    periods: list[Period] = []
    customer = request.GET.get("customer", "")
    try:
        periods = _periods(request, scope.organization)
        hybrid: dict[str, Any] = {"platform_fee": _decimal(request, "hybrid_fee", "0"),
                                  "outcome_price_factor": _decimal(request, "hybrid_factor", "0.5"), "meters": []}
        values: dict[str, Any] = {
            "customer": customer or None, "periods": [p.label for p in periods],
            "token_markup": _decimal(request, "token_markup", "0.5"),
            "hybrid": hybrid,
        }
        if request.GET.get("hybrid_meter"):
            hybrid["meters"] = [{
                "meter": request.GET["hybrid_meter"], "unit_price": _decimal(request, "hybrid_meter_price", "0"),
                "per": _decimal(request, "hybrid_meter_per", "1000000") or Decimal(1),
                "included_quantity": _decimal(request, "hybrid_meter_included", "0")}]
        rows = simulation_rows(scope.organization, values)
    except DomainError as exc:
        error = f"{exc.field}: {exc.message}" if exc.field else exc.message
    if rows:
        labels = sorted({row["period"] for row in rows})
        for metric, unit in (("paid", "paid"), ("margin", "margin")):
            series = []
            for number, key in enumerate(SCENARIO_LABELS, start=1):
                by_period: dict[str, Decimal] = {}
                for row in rows:
                    by_period[row["period"]] = by_period.get(row["period"], Decimal(0)) + row[key][metric]
                series.append(Series(SCENARIO_LABELS[key], f"s{number}", [by_period.get(p) for p in labels]))
            charts[metric] = grouped_bar_chart(categories=labels, series=series, unit=unit)
        for key in SCENARIO_LABELS:
            paid = sum((row[key]["paid"] for row in rows), Decimal(0))
            margin = sum((row[key]["margin"] for row in rows), Decimal(0))
            outcomes = sum(row[key]["outcomes"] for row in rows)
            totals[key] = {"paid": paid, "margin": margin, "outcomes": outcomes,
                           "per_outcome": (paid / outcomes).quantize(Decimal("0.01")) if outcomes else None}
    return render(request, "portal/value_simulator.html", {
        "scope": scope, "rows": rows, "error": error, "charts": charts, "totals": totals,
        "labels": SCENARIO_LABELS, "customers": customer_list(organization=scope.organization),
        "customer": customer, "periods": periods, "params": request.GET,
        "known_periods": invoice_period_list(organization=scope.organization)[:12],
    })


def _report(request: HttpRequest, organization: Any) -> tuple[list[Any], str | None]:
    try:
        return efficiency_report(organization=organization, periods=_periods(request, organization)), None
    except DomainError as exc:
        return [], exc.message


@vendor_required
def efficiency_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    report, error = _report(request, scope.organization)
    header, rows = efficiency_rows(report)
    codes = sorted({code for item in report for code in item.types})
    trend = grouped_bar_chart(
        categories=[item.period.label for item in report],
        series=[Series(code, f"s{number % 3 + 1}", [item.types[code].per_outcome(item.types[code].cost)
                                                    if code in item.types else None for item in report])
                for number, code in enumerate(codes)],
        unit="cost per outcome",
    ) if report else None
    query = request.GET.urlencode()
    return render(request, "portal/value_efficiency.html", {
        "scope": scope, "report": report, "error": error, "header": header, "rows": rows, "trend": trend,
        "alerts": budget_alert_list(organization=scope.organization),
        "csv_url": f"{reverse('portal:value-efficiency-csv')}?{query}" if query else reverse(
            "portal:value-efficiency-csv"),
        "known_periods": invoice_period_list(organization=scope.organization)[:12],
    })


@vendor_required
def efficiency_csv(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    report, error = _report(request, scope.organization)
    if error:
        return HttpResponseBadRequest(f"period: {error}")
    header, rows = efficiency_rows(report)
    response = HttpResponse(csv_bytes(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="efficiency.csv"'
    return response
