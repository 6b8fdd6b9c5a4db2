"""Disputes: the vendor's queue (accept or reject, with a note) and the customer's own disputes."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing.selectors.disputes import dispute_list_with_invoices
from core.errors import DomainError, NotFound
from outcomes.selectors import outcome_evidence
from outcomes.services import dispute_resolve
from portal.access import login_required, not_found_as_404, scope_of, vendor_admin_required
from portal.forms import DisputeResolveForm
from portal.pagination import paginate


@login_required
def dispute_list_page(request: HttpRequest) -> HttpResponse:
    """One page for both sides: a vendor user sees every open dispute (an admin can settle them), a
    customer user its own disputes and how the vendor decided."""
    scope = scope_of(request)
    open_disputes = paginate(
        request, dispute_list_with_invoices(organization=scope.organization, customer=scope.customer, open_=True)
    )
    resolved = dispute_list_with_invoices(organization=scope.organization, customer=scope.customer, open_=False)
    resolved_page = paginate(request, resolved, param="resolved_page")
    return render(
        request,
        "portal/dispute_list.html",
        {
            "scope": scope,
            "open_page": open_disputes,
            "resolved_page": resolved_page,
            "can_resolve": scope.is_vendor_admin,
            "proofs": outcome_evidence(organization_id=scope.organization.pk,
                                       events=[dispute.outcome_event for dispute in open_disputes]),
        },
    )


@require_POST
@vendor_admin_required
@not_found_as_404
def dispute_resolve_action(request: HttpRequest, dispute_id: int) -> HttpResponse:
    scope = scope_of(request)
    form = DisputeResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose accept or reject and write a note of at least 3 characters.")
        return redirect("portal:dispute-list")
    accept = form.cleaned_data["decision"] == "accept"
    try:
        dispute = dispute_resolve(
            organization=scope.organization,
            dispute_id=dispute_id,
            accept=accept,
            note=form.cleaned_data["note"],
            actor_user=request.user,  # type: ignore[arg-type]
            actor_label=f"portal:{request.user.get_username()}",
        )
    except NotFound:
        raise
    except DomainError as exc:
        messages.error(request, f"The dispute was not resolved: {exc.message}")
        return redirect("portal:dispute-list")
    event = dispute.outcome_event
    if accept:
        messages.success(
            request,
            f"Dispute on {event.task_id} accepted: the outcome is reversed and will not be charged "
            "(credited on the next invoice if it was already billed).",
        )
    else:
        messages.success(request, f"Dispute on {event.task_id} rejected: the outcome is billable again.")
    return redirect("portal:dispute-list")
