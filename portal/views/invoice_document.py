"""The invoice page, its PDF and its CSV exports: the document first (parties, dates, summary, tax, amount
due, how to pay), from billing.selectors.document.invoice_document, the same data as the PDF and the API;
the per-task itemization below it, a page of lines at a time."""

from collections.abc import Iterator
from contextlib import suppress
from decimal import Decimal

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.text import slugify

from billing.invoice_pdf import invoice_pdf_response
from billing.models import Invoice, InvoiceLine
from billing.selectors.document import billing_profile_of, invoice_document
from billing.selectors.invoices import (
    SECTION_INVOICE,
    SECTION_PRIOR,
    credit_note_list,
    invoice_get,
    invoice_line_list,
    invoice_line_list_by_section,
)
from billing.selectors.roi import roi_figures, roi_get
from core.errors import NotFound
from core.periods import Period
from portal import disputes
from portal.access import login_required, not_found_as_404, scope_of
from portal.exports import (
    csv_stream,
    invoice_csv_header,
    invoice_csv_rows,
    invoice_summary_csv_header,
    invoice_summary_csv_rows,
)
from portal.pagination import paginate
from portal.views.invoice_actions import actions_for, can_credit

# An invoice can hold a million task lines; a page of them stays quick to render and to read.
LINES_PER_PAGE = 100


@login_required
@not_found_as_404
def invoice_detail_page(request: HttpRequest, invoice_id: int) -> HttpResponse:
    scope = scope_of(request)
    invoice = invoice_get(organization=scope.organization, invoice_id=invoice_id, customer=scope.customer)
    invoice.organization = scope.organization  # the scope's own row: the document reads its name without a query
    document = invoice_document(invoice, audience=scope.audience)
    page = paginate(request, invoice_line_list_by_section(invoice=invoice), per_page=LINES_PER_PAGE)
    for line in page.object_list:
        line.section_label = _section_label(line)
    credit_notes = list(credit_note_list(organization_id=invoice.organization_id, invoice=invoice))
    context = {
        "scope": scope,
        "invoice": invoice,
        "document": document,
        # What the itemization adds up to: the summary's amounts, before tax.
        "lines_total": sum((line.amount for line in document.summary), Decimal(0)),
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
    section = line.section  # type: ignore[attr-defined]  # set by invoice_line_list_by_section
    if section == SECTION_PRIOR:
        return f"Prior period {line.service_period_start:%Y-%m}"
    if section == SECTION_INVOICE:
        return "Fees and credits"
    return f"This period {line.service_period_start:%Y-%m}"


def _filename(invoice: Invoice, suffix: str) -> str:
    name = invoice.number or f"draft-{invoice.customer.external_id}-{invoice.period}"
    return f"invoice-{slugify(name)}{suffix}"


def _csv_response(chunks: Iterator[bytes], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@not_found_as_404
def invoice_csv(request: HttpRequest, invoice_id: int) -> StreamingHttpResponse:
    """Every line of the invoice, streamed (a million lines never sit in memory)."""
    scope = scope_of(request)
    invoice = invoice_get(organization=scope.organization, invoice_id=invoice_id, customer=scope.customer)
    lines = invoice_line_list(invoice=invoice).select_related("credited_line__invoice").iterator(chunk_size=2000)
    body = csv_stream(invoice_csv_header(sees_cost=scope.sees_cost),
                      invoice_csv_rows(invoice, lines, sees_cost=scope.sees_cost))
    return _csv_response(body, _filename(invoice, ".csv"))


@login_required
@not_found_as_404
def invoice_summary_csv(request: HttpRequest, invoice_id: int) -> StreamingHttpResponse:
    """The summary as its own export: the same lines and totals as the page, the PDF and the API."""
    scope = scope_of(request)
    invoice = invoice_get(organization=scope.organization, invoice_id=invoice_id, customer=scope.customer)
    document = invoice_document(invoice, audience=scope.audience)
    body = csv_stream(invoice_summary_csv_header(), invoice_summary_csv_rows(document))
    return _csv_response(body, _filename(invoice, "-summary.csv"))


@login_required
@not_found_as_404
def invoice_pdf(request: HttpRequest, invoice_id: int) -> StreamingHttpResponse:
    scope = scope_of(request)
    invoice = invoice_get(organization=scope.organization, invoice_id=invoice_id, customer=scope.customer)
    return invoice_pdf_response(invoice)


@login_required
def billing_logo(request: HttpRequest) -> HttpResponse:
    """The organization's uploaded logo, for its invoice pages (served here: the pages load images from
    this site only)."""
    profile = billing_profile_of(scope_of(request).organization)
    if not profile.logo:
        raise Http404("No logo uploaded.")
    response = HttpResponse(bytes(profile.logo), content_type=profile.logo_content_type or "image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response
