"""Downloads, each scoped exactly like the page it is linked from."""

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.text import slugify

from accounts.selectors import customer_get
from billing.models import Invoice
from portal.access import login_required, not_found_as_404, scope_of, vendor_required
from portal.dashboard import roi_export_rows
from portal.exports import csv_bytes


def _download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _invoice_filename(invoice: Invoice, extension: str) -> str:
    name = invoice.number or f"draft-{invoice.customer.external_id}-{invoice.period}"
    return f"invoice-{slugify(name)}.{extension}"


@login_required
def roi_csv(request: HttpRequest) -> HttpResponse:
    """The customer's own ROI history (no cost or margin columns)."""
    scope = scope_of(request)
    if scope.customer is None:
        raise Http404("Vendor users export a customer's ROI from that customer's page.")
    header, rows = roi_export_rows(customer=scope.customer, audience=scope.audience)
    return _download(
        csv_bytes(header, rows), "text/csv; charset=utf-8", f"roi-{slugify(scope.customer.external_id)}.csv"
    )


@vendor_required
@not_found_as_404
def customer_roi_csv(request: HttpRequest, external_id: str) -> HttpResponse:
    scope = scope_of(request)
    customer = customer_get(organization=scope.organization, external_id=external_id)
    header, rows = roi_export_rows(customer=customer, audience=scope.audience)
    return _download(
        csv_bytes(header, rows), "text/csv; charset=utf-8", f"roi-{slugify(customer.external_id)}.csv"
    )
