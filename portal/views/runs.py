from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.selectors import customer_list
from billing.models import BillingRun
from billing.selectors.runs import billing_run_get, billing_run_list
from billing.services.runs import billing_run_create
from core.errors import DomainError
from portal.access import not_found_as_404, scope_of, vendor_required
from portal.forms import BillingRunForm
from portal.pagination import paginate
from portal.runs import RESULT_LIMIT, billing_run_results

# While a run is queued or running its page asks for progress this often.
REFRESH_SECONDS = 3


def _progress(run: BillingRun) -> dict[str, object]:
    percent = (
        round(100 * run.customers_done / run.customers_total)
        if run.customers_total
        else (100 if run.status == BillingRun.Status.DONE else 0)
    )
    return {
        "id": run.pk,
        "status": run.status,
        "period": run.period,
        "customers_done": run.customers_done,
        "customers_total": run.customers_total,
        "percent": percent,
        "active": run.status in (BillingRun.Status.QUEUED, BillingRun.Status.RUNNING),
        "error": run.error,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


@vendor_required
def run_list_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    return render(
        request,
        "portal/run_list.html",
        {
            "scope": scope,
            "page": paginate(request, billing_run_list(organization=scope.organization)),
            # ?customer=<external id> (from a customer's page) preselects that customer.
            "form": BillingRunForm(
                initial={"customer": request.GET.get("customer", "")},
                customers=customer_list(organization=scope.organization),
            ),
        },
    )


@require_POST
@vendor_required
def run_start(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    if not scope.is_vendor_admin:
        raise PermissionDenied("Only a vendor admin may start a billing run.")
    form = BillingRunForm(request.POST, customers=customer_list(organization=scope.organization))
    if not form.is_valid():
        problems = [f"{name}: {' '.join(str(error) for error in errors)}" for name, errors in form.errors.items()]
        messages.error(request, " ".join(problems))
        return redirect("portal:run-list")
    try:  # a run of the same period and scope already queued or running is joined: its page is shown
        run = billing_run_create(
            organization=scope.organization,
            period=form.cleaned_data["period"],
            customer=form.cleaned_data.get("customer"),
        )
    except DomainError as exc:  # RateLimited, a period not started yet
        messages.error(request, exc.message)
        return redirect("portal:run-list")
    return redirect("portal:run-detail", run.pk)


@vendor_required
@not_found_as_404
def run_page(request: HttpRequest, run_id: int) -> HttpResponse:
    scope = scope_of(request)
    run = billing_run_get(organization=scope.organization, run_id=run_id)
    return render(
        request,
        "portal/run_detail.html",
        {
            "scope": scope,
            "run": run,
            "progress": _progress(run),
            "refresh_seconds": REFRESH_SECONDS,
            "results": billing_run_results(run=run),
            "result_limit": RESULT_LIMIT,
        },
    )


@vendor_required
@not_found_as_404
def run_progress_json(request: HttpRequest, run_id: int) -> JsonResponse:
    scope = scope_of(request)
    run = billing_run_get(organization=scope.organization, run_id=run_id)
    return JsonResponse(_progress(run))
