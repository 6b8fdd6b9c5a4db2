"""Value pages: baselines (the vendor proposes, the customer approves) and value receipts (list, detail,
JSON and PDF downloads, and the share page an outsider opens with the link's token)."""

import json
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from accounts.selectors import customer_get, customer_list
from core.errors import DomainError
from core.periods import period_parse
from outcomes.selectors import outcome_type_names
from portal.access import login_required, not_found_as_404, scope_of, vendor_admin_required
from portal.pagination import paginate
from value.models import Baseline, ValueReceipt
from value.pdf import receipt_pdf
from value.selectors.baselines import baseline_get, baseline_list
from value.selectors.receipts import receipt_by_token, receipt_document, receipt_get, receipt_list, receipt_verify
from value.services.baselines import BaselineSpec, baseline_decide, baseline_propose
from value.services.receipts import receipt_content


def _decimal(text: str, field: str) -> Decimal | None:
    if not text.strip():
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation as exc:
        raise DomainError(f"{text!r} is not a number.", field=field) from exc


@login_required
@not_found_as_404
def baseline_list_page(request: HttpRequest) -> HttpResponse:
    """Both sides: the vendor's proposals per customer (an admin proposes new versions), a customer's own
    baselines with Approve and Decline on those still proposed."""
    scope = scope_of(request)
    customer = scope.customer
    if customer is None and request.GET.get("customer"):
        customer = customer_get(organization=scope.organization, external_id=request.GET["customer"])
    page = paginate(request, baseline_list(organization=scope.organization, customer=customer))
    return render(request, "portal/value_baselines.html", {
        "scope": scope, "page": page, "customer": customer,
        "customers": customer_list(organization=scope.organization) if scope.is_vendor else [],
        "outcome_types": outcome_type_names(organization_id=scope.organization.pk),
        "methods": Baseline.Method.choices,
    })


@require_POST
@vendor_admin_required
@not_found_as_404
def baseline_propose_action(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    form = request.POST
    try:
        customer = customer_get(organization=scope.organization, external_id=form.get("customer", ""))
        spec = BaselineSpec(
            outcome=form.get("outcome", ""),
            effective_from=period_parse(form.get("effective_from", ""), field="effective_from"),
            method=form.get("method", ""), currency=customer.currency,
            minutes=_decimal(form.get("minutes", ""), "minutes"),
            hourly_cost=_decimal(form.get("hourly_cost", ""), "hourly_cost"),
            flat_value=_decimal(form.get("flat_value", ""), "flat_value"),
            note=form.get("note", "")[:300],
        )
        baseline = baseline_propose(customer=customer, spec=spec, acting_user=request.user)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, f"{exc.field or 'form'}: {exc.message}")
        return redirect(reverse("portal:value-baselines"))
    messages.success(request, f"Proposed version {baseline.version} to {customer.name}: they approve or decline it "
                              "in their portal.")
    return redirect(f"{reverse('portal:value-baselines')}?customer={customer.external_id}")


@require_POST
@login_required
@not_found_as_404
def baseline_decide_action(request: HttpRequest, baseline_id: int) -> HttpResponse:
    """A customer user's answer: Approve or Decline. Vendor users are refused (404: not their decision)."""
    scope = scope_of(request)
    if scope.customer is None:
        raise PermissionDenied("Only the customer approves or declines its baselines.")
    baseline = baseline_get(organization=scope.organization, baseline_id=baseline_id, customer=scope.customer)
    approve = request.POST.get("decision") == "approve"
    try:
        baseline_decide(baseline=baseline, customer=scope.customer, approve=approve,
                        acting_user=request.user)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Baseline version {baseline.version} for {baseline.outcome_type.name} "
                                  f"{'approved' if approve else 'declined'}.")
    return redirect(reverse("portal:value-baselines"))


@login_required
def receipt_list_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    page = paginate(request, receipt_list(organization=scope.organization, customer=scope.customer))
    return render(request, "portal/value_receipts.html", {"scope": scope, "page": page})


def _receipt_context(request: HttpRequest, receipt: ValueReceipt) -> dict[str, object]:
    return {
        "receipt": receipt, "content": receipt_content(receipt), "check": receipt_verify(receipt),
        "document": receipt_document(receipt),
        "share_url": request.build_absolute_uri(reverse("portal:value-receipt-share", args=[receipt.share_token])),
        "json_url": reverse("portal:value-receipt-share-json", args=[receipt.share_token]),
        "pdf_url": reverse("portal:value-receipt-share-pdf", args=[receipt.share_token]),
        "names": outcome_type_names(organization_id=receipt.organization_id),
    }


@login_required
@not_found_as_404
def receipt_page(request: HttpRequest, receipt_id: int) -> HttpResponse:
    scope = scope_of(request)
    receipt = receipt_get(organization=scope.organization, receipt_id=receipt_id, customer=scope.customer)
    return render(request, "portal/value_receipt.html", {"scope": scope, "shared": False,
                                                          **_receipt_context(request, receipt)})


@not_found_as_404
def receipt_share_page(request: HttpRequest, token: str) -> HttpResponse:
    """Anyone with the link: the receipt and the server's check of its signature and chain, with the
    public key and the steps to verify it offline. No login: the unguessable token is the key."""
    receipt = receipt_by_token(token=token)
    return render(request, "portal/value_receipt.html", {"scope": None, "shared": True, "bare": True,
                                                          **_receipt_context(request, receipt)})


def _download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _filename(receipt: ValueReceipt, extension: str) -> str:
    return f"value-receipt-{slugify(receipt.customer.external_id)}-{receipt.period}-{receipt.sequence}.{extension}"


@not_found_as_404
def receipt_share_json(request: HttpRequest, token: str) -> HttpResponse:
    receipt = receipt_by_token(token=token)
    body = json.dumps(receipt_document(receipt), indent=2, ensure_ascii=False).encode()
    return _download(body, "application/json", _filename(receipt, "json"))


@not_found_as_404
def receipt_share_pdf(request: HttpRequest, token: str) -> HttpResponse:
    receipt = receipt_by_token(token=token)
    share_url = request.build_absolute_uri(reverse("portal:value-receipt-share", args=[receipt.share_token]))
    return _download(receipt_pdf(receipt, check=receipt_verify(receipt), share_url=share_url), "application/pdf",
                     _filename(receipt, "pdf"))

