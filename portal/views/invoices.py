from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.selectors import customer_list
from billing.reports import (
    invoice_cost_total,
    invoice_for_page,
    invoice_lines,
    invoice_periods,
    invoice_search,
)
from portal import disputes
from portal.access import login_required, not_found_as_404, scope_of
from portal.forms import InvoiceFilterForm
from portal.pagination import paginate

# An invoice can hold thousands of task lines; a page of them stays quick to render and to read.
LINES_PER_PAGE = 100


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if scope_of(request).is_vendor:
        return redirect("portal:customer-list")
    return redirect("portal:invoice-list")


@login_required
def invoice_list_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    customers = customer_list(organization=scope.organization) if scope.is_vendor else None
    form = InvoiceFilterForm(request.GET or None, customers=customers)
    filters = form.cleaned_data if form.is_valid() else {}
    invoices = invoice_search(
        organization=scope.organization,
        customer=scope.customer or filters.get("customer"),
        period=filters.get("period"),
        status=filters.get("status"),
    )
    return render(
        request,
        "portal/invoice_list.html",
        {
            "scope": scope,
            "form": form,
            "page": paginate(request, invoices),
            "periods": invoice_periods(organization=scope.organization, customer=scope.customer),
            "filtered": bool(filters and any(filters.values())),
        },
    )


@login_required
@not_found_as_404
def invoice_detail_page(request: HttpRequest, invoice_id: int) -> HttpResponse:
    scope = scope_of(request)
    invoice = invoice_for_page(
        organization=scope.organization, invoice_id=invoice_id, customer=scope.customer
    )
    page = paginate(request, invoice_lines(invoice=invoice), per_page=LINES_PER_PAGE)
    context = {
        "scope": scope,
        "invoice": invoice,
        "page": page,
        "disputes_enabled": disputes.disputes_enabled(),
    }
    if scope.sees_cost:
        context["cost_total"], context["cost_currency"] = invoice_cost_total(invoice=invoice)
        if context["cost_total"] is not None and context["cost_currency"] == invoice.currency:
            context["margin"] = invoice.total - context["cost_total"]
    return render(request, "portal/invoice_detail.html", context)
