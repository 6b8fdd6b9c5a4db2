from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.selectors import customer_list
from billing.selectors import invoice_get, invoice_list
from config.errors import NotFound
from portal.access import login_required, scope_of


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:invoice-list")


@login_required
def invoice_list_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    invoices = invoice_list(organization=scope.organization, customer=scope.customer)
    customers = customer_list(organization=scope.organization) if scope.is_vendor else []
    return render(request, "portal/invoice_list.html",
                  {"scope": scope, "invoices": invoices, "customers": customers})


@login_required
def invoice_detail_page(request: HttpRequest, invoice_id: int) -> HttpResponse:
    scope = scope_of(request)
    try:
        invoice = invoice_get(organization=scope.organization, invoice_id=invoice_id, customer=scope.customer)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    return render(request, "portal/invoice_detail.html", {"scope": scope, "invoice": invoice})
