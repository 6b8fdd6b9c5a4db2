from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.selectors import customer_list
from billing.selectors.aging import invoice_overdue_q
from billing.selectors.invoices import invoice_list, invoice_period_list
from portal.access import login_required, scope_of
from portal.forms import InvoiceFilterForm
from portal.pagination import paginate


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if scope_of(request).is_vendor:
        return redirect("portal:dashboard")
    return redirect("portal:invoice-list")


@login_required
def invoice_list_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    customers = customer_list(organization=scope.organization) if scope.is_vendor else None
    form = InvoiceFilterForm(request.GET or None, customers=customers)
    filters = form.cleaned_data if form.is_valid() else {}
    invoices = invoice_list(
        organization=scope.organization,
        customer=scope.customer or filters.get("customer"),
        period=filters.get("period"),
        status=filters.get("status"),
    )
    today = timezone.now().date()
    if filters.get("overdue"):
        invoices = invoices.filter(invoice_overdue_q(today))
    page = paginate(request, invoices)
    for invoice in page.object_list:
        invoice.overdue = invoice.is_overdue(today)  # the same rule as the filter (billing.selectors.aging)
    return render(
        request,
        "portal/invoice_list.html",
        {
            "scope": scope,
            "form": form,
            "page": page,
            "today": today,
            "periods": invoice_period_list(organization=scope.organization, customer=scope.customer),
            "filtered": bool(filters and any(filters.values())),
        },
    )
