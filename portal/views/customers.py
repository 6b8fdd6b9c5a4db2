from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.selectors import customer_get
from billing.selectors.invoices import invoice_list, invoice_period_list
from billing.selectors.roi import customer_figures, customer_period_list
from core.errors import DomainError
from core.periods import Period, period_parse
from portal.access import login_required, not_found_as_404, scope_of, vendor_required
from portal.account import customer_account
from portal.dashboard import roi_dashboard
from portal.pagination import paginate


@vendor_required
def customer_list_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    periods = invoice_period_list(organization=scope.organization)
    period = periods[0] if periods else Period.of(timezone.now())
    error = None
    if request.GET.get("period"):
        try:
            period = period_parse(request.GET["period"])
        except DomainError as exc:
            error = exc.message
    page = paginate(request, customer_period_list(organization=scope.organization, period=period))
    # The ROI page's figures, from the same function: billed for the period, cost and margin agree with it.
    figures = customer_figures(customer_ids=[customer.pk for customer in page.object_list], period=period)
    for customer in page.object_list:
        item = figures.get(customer.pk)
        customer.figures = item.visible(audience=scope.audience) if item is not None else None
    return render(
        request,
        "portal/customer_list.html",
        {
            "scope": scope,
            "page": page,
            "period": period,
            "periods": periods,
            "error": error,
        },
    )


@vendor_required
@not_found_as_404
def customer_page(request: HttpRequest, external_id: str) -> HttpResponse:
    scope = scope_of(request)
    customer = customer_get(organization=scope.organization, external_id=external_id)
    dashboard = roi_dashboard(
        organization=scope.organization,
        customer=customer,
        period_text=request.GET.get("period"),
        audience=scope.audience,
    )
    invoices = invoice_list(organization=scope.organization, customer=customer)[:6]
    return render(
        request,
        "portal/customer_detail.html",
        {
            "scope": scope,
            "customer": customer,
            "dashboard": dashboard,
            "invoices": invoices,
            "account": customer_account(customer=customer),
        },
    )


@login_required
def roi_page(request: HttpRequest) -> HttpResponse:
    """The customer's own ROI dashboard; a vendor user picks a customer from the customer list instead."""
    scope = scope_of(request)
    if scope.customer is None:
        return redirect("portal:customer-list")
    dashboard = roi_dashboard(
        organization=scope.organization,
        customer=scope.customer,
        period_text=request.GET.get("period"),
        audience=scope.audience,
    )
    return render(
        request,
        "portal/roi.html",
        {
            "scope": scope,
            "customer": scope.customer,
            "dashboard": dashboard,
            "account": customer_account(customer=scope.customer),
        },
    )
