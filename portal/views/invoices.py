from contextlib import suppress
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.selectors import customer_list
from billing.models import InvoiceLine
from billing.selectors.aging import invoice_overdue_q
from billing.selectors.invoices import (
    SECTION_INVOICE,
    SECTION_PRIOR,
    credit_note_list,
    invoice_get,
    invoice_line_list_by_section,
    invoice_list,
    invoice_period_list,
)
from billing.selectors.roi import roi_figures, roi_get
from core.errors import NotFound
from core.periods import Period
from portal import disputes
from portal.access import login_required, not_found_as_404, scope_of
from portal.forms import InvoiceFilterForm
from portal.pagination import paginate
from portal.views.invoice_actions import actions_for, can_credit

# An invoice can hold thousands of task lines; a page of them stays quick to render and to read.
LINES_PER_PAGE = 100


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


@login_required
@not_found_as_404
def invoice_detail_page(request: HttpRequest, invoice_id: int) -> HttpResponse:
    scope = scope_of(request)
    invoice = invoice_get(organization=scope.organization, invoice_id=invoice_id, customer=scope.customer)
    page = paginate(request, invoice_line_list_by_section(invoice=invoice), per_page=LINES_PER_PAGE)
    for line in page.object_list:
        line.section_label = _section_label(line)
    credit_notes = list(credit_note_list(organization_id=invoice.organization_id, invoice=invoice))
    context = {
        "scope": scope,
        "invoice": invoice,
        "page": page,
        "disputable": {line.pk for line in page.object_list if disputes.can_dispute(scope, line)},
        "credit_notes": credit_notes,
        "credited_total": sum((note.total for note in credit_notes), Decimal(0)),
        # Which lines a credit note has credited, to mark them in the table (from the prefetch above).
        "credited_by_note": {
            note_line.invoice_line_id: note.number
            for note in credit_notes
            for note_line in note.lines.all()
            if note_line.invoice_line_id
        },
        "actions": actions_for(invoice) if scope.is_vendor_admin else [],
        "can_credit": scope.is_vendor_admin and can_credit(invoice),
    }
    # The period's figures, the same as on the ROI page, the customers list and the ROI API and CSV; the
    # audience rule leaves out the cost and margin when the customer asks.
    context["figures"] = None
    with suppress(NotFound):
        report = roi_get(customer=invoice.customer, period=Period(invoice.period_start))
        context["figures"] = roi_figures(report, audience=scope.audience)
    return render(request, "portal/invoice_detail.html", context)


def _section_label(line: InvoiceLine) -> str:
    section = line.section  # type: ignore[attr-defined]  # annotated by invoice_line_list_by_section
    if section == SECTION_PRIOR:
        return f"Prior period {line.service_period_start:%Y-%m}"
    if section == SECTION_INVOICE:
        return "Fees and credits"
    return f"This period {line.service_period_start:%Y-%m}"
