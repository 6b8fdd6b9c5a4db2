"""The event debugger in the vendor console: a customer's usage so far, its events newest first, and the
trace of one event (which rate priced it, which task and invoice line it fed, or why not)."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Customer
from accounts.selectors import customer_get
from billing.explain import outcome_event_trace, usage_event_trace
from core.api.cursor import cursor_decode, cursor_encode
from core.api.fields import decimal_str
from core.errors import DomainError, NotFound
from metering.selectors import meter_codes, usage_event_page, usage_events_filtered
from outcomes.selectors import outcome_event_list
from portal.access import Scope, not_found_as_404, scope_of, vendor_required
from portal.exports import csv_stream
from portal.forms import UsageEventFilterForm
from rollups.selectors import usage_summary_rolled

# A screenful: enough to follow one task's calls, few enough to render at once.
PAGE_SIZE = 50


def _filters(form: UsageEventFilterForm) -> dict[str, Any]:
    """The selector's filters from a valid form: days are whole UTC days, `To` included."""
    data = form.cleaned_data
    return {
        "task_id": data["task_id"] or None,
        "meter_id": int(data["meter"]) if data["meter"] else None,
        "start": datetime.combine(data["day_from"], time(), UTC) if data["day_from"] else None,
        "end": datetime.combine(data["day_to"] + timedelta(days=1), time(), UTC) if data["day_to"] else None,
    }


def _events_of(request: HttpRequest, external_id: str, *, bound: bool
               ) -> tuple[Scope, Customer, dict[int, str], UsageEventFilterForm]:
    """The viewer's scope, the customer (404 outside it), its organization's meters and the filter form."""
    scope = scope_of(request)
    customer = customer_get(organization=scope.organization, external_id=external_id)
    meters = meter_codes(organization_id=scope.organization.pk)
    return scope, customer, meters, UsageEventFilterForm(request.GET if bound else None, meters=meters)


@vendor_required
@not_found_as_404
def customer_events_page(request: HttpRequest, external_id: str) -> HttpResponse:
    scope, customer, meters, form = _events_of(request, external_id, bound=bool(request.GET))
    valid = not form.is_bound or form.is_valid()
    filters = _filters(form) if form.is_bound and valid else {}
    after, cursor_error = None, None
    if request.GET.get("cursor") and valid:
        try:
            after = cursor_decode(request.GET["cursor"])
        except DomainError as exc:
            cursor_error = exc.message
    rows = usage_event_page(organization_id=scope.organization.pk, customer_id=customer.pk, after=after,
                            limit=PAGE_SIZE, **filters) if valid else []
    next_query = None
    if len(rows) > PAGE_SIZE:
        last = rows[PAGE_SIZE - 1]
        params = request.GET.copy()
        params["cursor"] = cursor_encode(last.timestamp, last.pk)
        next_query = params.urlencode()
    export_query = request.GET.copy()
    export_query.pop("cursor", None)
    summary = usage_summary_rolled(organization_id=scope.organization.pk, customer_id=customer.pk,
                                   now=timezone.now())
    outcomes = list(outcome_event_list(organization_id=scope.organization.pk).filter(customer=customer)
                    .order_by("-timestamp", "-pk")[:10])
    return render(request, "portal/customer_events.html", {
        "scope": scope, "customer": customer, "form": form, "events": rows[:PAGE_SIZE], "meters": meters,
        "next_query": next_query, "first_page": after is None, "cursor_error": cursor_error,
        "export_query": export_query.urlencode(), "summary": summary.meters, "today": summary.today,
        "period_label": summary.period.label, "outcomes": outcomes,
    })


@vendor_required
@not_found_as_404
def customer_events_csv(request: HttpRequest, external_id: str) -> HttpResponseBase:
    """The filtered usage events, oldest first, streamed: a month of a busy customer is millions of rows."""
    scope, customer, meters, form = _events_of(request, external_id, bound=True)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(map(str, errors))}" for name, errors in form.errors.items())
        return HttpResponse(f"Bad filters: {problems}", status=400, content_type="text/plain; charset=utf-8")
    events = usage_events_filtered(organization_id=scope.organization.pk, customer_id=customer.pk,
                                   **_filters(form)).order_by("timestamp", "id").iterator(chunk_size=5000)
    header = ["timestamp", "meter", "quantity", "task_id", "idempotency_key", "properties", "received_at"]
    rows = ([event.timestamp.isoformat(), meters.get(event.meter_id, ""), decimal_str(event.quantity), event.task_id,
             event.idempotency_key, orjson.dumps(event.properties).decode(), event.received_at.isoformat()]
            for event in events)
    response = StreamingHttpResponse(csv_stream(header, rows), content_type="text/csv; charset=utf-8")
    filename = slugify(f"usage-{customer.external_id}-{timezone.now():%Y%m%d-%H%M}")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


@vendor_required
@not_found_as_404
def event_trace_page(request: HttpRequest, external_id: str) -> HttpResponse:
    """`?usage=<key>` or `?outcome=<key>`: one event of this customer, traced."""
    scope = scope_of(request)
    customer = customer_get(organization=scope.organization, external_id=external_id)
    if "outcome" in request.GET:
        kind, trace = "outcome", outcome_event_trace(organization=scope.organization,
                                                     idempotency_key=request.GET["outcome"])
    else:
        kind, trace = "usage", usage_event_trace(organization=scope.organization,
                                                 idempotency_key=request.GET.get("usage", ""))
    if trace["event"]["customer"] != customer.external_id:  # another customer's key: not on this page
        raise NotFound("No such event for this customer.", field="idempotency_key")
    return render(request, "portal/event_trace.html", {
        "scope": scope, "customer": customer, "kind": kind, "trace": trace,
    })
