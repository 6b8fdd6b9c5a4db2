"""The customer's word on its outcomes: the portal list of outcomes awaiting confirmation, with
confirm and reject buttons, and the page a signed one-click link from an email opens (no login: the
link's signature names the one outcome it may act on)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError, NotFound
from outcomes.selectors import outcome_evidence, outcome_for_customer, outcomes_awaiting_confirmation
from outcomes.signing import confirmation_link_read
from outcomes.verification import outcome_confirm, outcome_reject
from portal.access import login_required, not_found_as_404, scope_of
from portal.forms import DisputeForm


@login_required
def confirm_list_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    if scope.customer is None:
        raise PermissionDenied("Outcomes are confirmed by the customer's finance team.")
    pending = outcomes_awaiting_confirmation(organization_id=scope.organization.pk, customer_id=scope.customer.pk)
    proofs = outcome_evidence(organization_id=scope.organization.pk, events=pending)
    return render(request, "portal/confirm_list.html", {
        "scope": scope, "outcomes": [(event, proofs[event.pk]) for event in pending], "form": DisputeForm(),
    })


@require_POST
@login_required
@not_found_as_404
def confirm_action(request: HttpRequest, event_id: int, decision: str) -> HttpResponse:
    scope = scope_of(request)
    if scope.customer is None:
        raise PermissionDenied("Outcomes are confirmed by the customer's finance team.")
    outcome = outcome_for_customer(organization_id=scope.organization.pk, customer_id=scope.customer.pk,
                                   event_id=event_id)
    label = f"portal:{scope.user.get_username()}"
    try:
        if decision == "confirm":
            outcome_confirm(organization=scope.organization, customer_id=scope.customer.pk, event_id=outcome.pk,
                            actor_user=scope.user, actor_label=label)
            messages.success(request, f"Confirmed {outcome.outcome_type.name} for task {outcome.task_id}.")
        else:
            form = DisputeForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Please give a reason of at least 5 characters for the rejection.")
                return redirect("portal:confirm-list")
            outcome_reject(organization=scope.organization, customer_id=scope.customer.pk, event_id=outcome.pk,
                           reason=form.cleaned_data["reason"], actor_user=scope.user, actor_label=label)
            messages.success(request, f"Rejected {outcome.outcome_type.name} for task {outcome.task_id}: a dispute "
                                      "is open and the outcome is held out of billing until the vendor answers.")
    except NotFound:
        raise
    except DomainError as exc:
        messages.error(request, f"Nothing was recorded: {exc.message}")
    return redirect("portal:confirm-list")


@require_http_methods(["GET", "POST"])
def confirm_link_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the outcome and asks (mail scanners that follow links change nothing); POST acts."""
    try:
        claim = confirmation_link_read(token)
    except DomainError as exc:
        return render(request, "portal/confirm_link.html", {"error": exc.message}, status=400)
    try:
        outcome = outcome_for_customer(organization_id=claim.organization_id, customer_id=claim.customer_id,
                                       event_id=claim.event_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    form = DisputeForm(request.POST or None)
    done = ""
    if request.method == "POST":
        label = f"link:{outcome.customer.external_id}"
        try:
            if request.POST.get("decision") == "confirm":
                outcome_confirm(organization=outcome.organization, customer_id=claim.customer_id,
                                event_id=outcome.pk, actor_label=label)
                done = "confirmed"
            elif form.is_valid():
                outcome_reject(organization=outcome.organization, customer_id=claim.customer_id, event_id=outcome.pk,
                               reason=form.cleaned_data["reason"], actor_label=label)
                done = "rejected"
        except DomainError as exc:
            messages.error(request, f"Nothing was recorded: {exc.message}")
        outcome = outcome_for_customer(organization_id=claim.organization_id, customer_id=claim.customer_id,
                                       event_id=claim.event_id)
    proof = outcome_evidence(organization_id=claim.organization_id, events=[outcome])[outcome.pk]
    return render(request, "portal/confirm_link.html", {
        "outcome": outcome, "proof": proof, "form": form, "done": done,
        "answerable": not done and outcome.status in ("pending", "verified") and proof.assurance != "confirmed",
    })
