from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from billing.models import InvoiceLine
from billing.selectors.invoices import invoice_get, invoice_line_get
from billing.selectors.tasks import task_get
from core.errors import DomainError
from outcomes.selectors import outcome_evidence
from outcomes.services import outcome_event_dispute
from portal import disputes
from portal.access import login_required, not_found_as_404, scope_of
from portal.forms import DisputeForm


@login_required
@not_found_as_404
def task_page(request: HttpRequest, invoice_id: int, task_id: str) -> HttpResponse:
    scope = scope_of(request)
    invoice = invoice_get(
        organization=scope.organization, invoice_id=invoice_id, customer=scope.customer
    )
    task = task_get(invoice=invoice, task_id=task_id)
    disputable = {line.pk for line in task.lines if disputes.can_dispute(scope, line)}
    return render(
        request,
        "portal/task_detail.html",
        {
            "scope": scope,
            "invoice": invoice,
            "task": task,
            "disputable": disputable,
            "form": DisputeForm(),
            "task_cost": _task_cost(task.lines),
            "proofs": outcome_evidence(organization_id=scope.organization.pk, events=task.outcomes),
        },
    )


def _task_cost(lines: list[InvoiceLine]) -> tuple[Decimal, str] | None:
    """Every outcome line of a task carries the task's whole cost; show it once."""
    for line in lines:
        if line.cost is not None:
            return line.cost, line.cost_currency
    return None


@require_POST
@login_required
@not_found_as_404
def line_dispute(request: HttpRequest, invoice_id: int, line_id: int) -> HttpResponse:
    scope = scope_of(request)
    if scope.is_vendor:
        raise PermissionDenied("Disputes are raised by the customer's finance team.")
    invoice = invoice_get(
        organization=scope.organization, invoice_id=invoice_id, customer=scope.customer
    )
    line = invoice_line_get(invoice=invoice, line_id=line_id)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = (
            reverse("portal:task-detail", args=[invoice.pk, line.task_id])
            if line.task_id
            else reverse("portal:invoice-detail", args=[invoice.pk])
        )
    if not disputes.can_dispute(scope, line):
        messages.error(
            request,
            "This line cannot be disputed (it is not an outcome, or it is already disputed, "
            "reversed or credited).",
        )
        return redirect(back)
    form = DisputeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Please give a reason of at least 5 characters for the dispute.")
        return redirect(back)
    assert line.outcome_event is not None  # can_dispute checked it
    try:
        outcome_event_dispute(
            organization=scope.organization,
            idempotency_key=line.outcome_event.idempotency_key,
            reason=form.cleaned_data["reason"],
            actor_user=scope.user,
            actor_label=f"portal:{scope.user.get_username()}",
            customer_id=scope.customer.pk if scope.customer else None,
        )
    except DomainError as exc:
        messages.error(request, f"The dispute was not recorded: {exc.message}")
        return redirect(back)
    messages.success(
        request,
        f"Dispute recorded for {line.description}. The outcome is held out of billing "
        "until the vendor answers.",
    )
    return redirect(back)
