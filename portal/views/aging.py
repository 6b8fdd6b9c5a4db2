"""The vendor's aging view: open receivables by customer and days past due, on a page and as CSV."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from billing.selectors.aging import BUCKET_KEYS, BUCKET_LABELS, aging_report
from core.money import round_money
from portal.access import scope_of, vendor_required
from portal.exports import csv_bytes


@vendor_required
def aging_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    aging = aging_report(organization=scope.organization, today=timezone.now().date())
    rows = [
        {
            "customer": row.customer,
            "currency": row.currency,
            "invoices": row.invoices,
            "buckets": [row.buckets[key] for key in BUCKET_KEYS],
            "total": row.total,
            "overdue": row.overdue,
        }
        for row in aging.rows
    ]
    totals = [
        {
            "currency": currency,
            "buckets": [buckets[key] for key in BUCKET_KEYS],
            "total": aging.total_of(currency),
            "overdue": aging.overdue_of(currency),
        }
        for currency, buckets in sorted(aging.totals.items())
    ]
    return render(
        request,
        "portal/aging.html",
        {
            "scope": scope,
            "today": aging.today,
            "labels": [BUCKET_LABELS[key] for key in BUCKET_KEYS],
            "rows": rows,
            "totals": totals,
        },
    )


@vendor_required
def aging_csv(request: HttpRequest) -> HttpResponse:
    """The aging page's rows, amounts at their currency's minor unit, then a total row per currency."""
    scope = scope_of(request)
    aging = aging_report(organization=scope.organization, today=timezone.now().date())
    header = ["customer", "customer_name", "currency", "invoices", *BUCKET_KEYS, "total", "overdue"]
    body = [
        [
            row.customer.external_id,
            row.customer.name,
            row.currency,
            row.invoices,
            *(round_money(row.buckets[key], row.currency) for key in BUCKET_KEYS),
            round_money(row.total, row.currency),
            round_money(row.overdue, row.currency),
        ]
        for row in aging.rows
    ]
    body += [
        [
            "",
            "Total",
            currency,
            sum(row.invoices for row in aging.rows if row.currency == currency),
            *(round_money(buckets[key], currency) for key in BUCKET_KEYS),
            round_money(aging.total_of(currency), currency),
            round_money(aging.overdue_of(currency), currency),
        ]
        for currency, buckets in sorted(aging.totals.items())
    ]
    response = HttpResponse(csv_bytes(header, body), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="aging-{aging.today:%Y-%m-%d}.csv"'
    return response
