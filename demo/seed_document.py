"""The demo's invoice documents: Acme AI's billing profile (legal name, address, tax id, a logo, net 30,
memo, footer, bank details), its tax rates (California sales tax 7.25%, German VAT 19%), and its
customers' billing details on the other side:

- Globex Corporation, California: standard, so its invoices carry the 7.25% sales tax;
- Initech GmbH, Berlin: reverse charge (the German VAT does not apply; the invoice says so);
- Umbrella Corp, California: exempt with a resale certificate, on net 15.

Runs before the demo's billing, so every draft and finalized invoice is computed with them. Every step
sets values (or finds the rate it made before), so seeding twice stores nothing twice.
"""

import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from accounts.billing_details import (
    billing_profile_get,
    billing_profile_logo_set,
    billing_profile_update,
    customer_billing_update,
)
from accounts.models import Organization
from accounts.selectors import customer_get
from billing.models import TaxRate
from billing.services.tax import tax_rate_create

Write = Callable[[str], None]

PROFILE: dict[str, Any] = {
    "legal_name": "Acme AI, Inc.", "address_line1": "500 Howard Street", "address_line2": "Suite 300",
    "city": "San Francisco", "region": "CA", "postal_code": "94105", "country": "US",
    "tax_id": "EIN 12-3456789", "email": "billing@acme-ai.example", "payment_terms_days": 30,
    "memo": "Thank you for your business. Every charge is itemized per task in the appendix.",
    "footer": "Acme AI, Inc. · 500 Howard Street, San Francisco, CA 94105 · billing@acme-ai.example",
    "payment_instructions": "Bank transfer to Acme AI, Inc. · First Demo Bank · ACH routing 021000021 · "
                            "account 000123456789 · quote the invoice number.",
}
RATES: tuple[dict[str, Any], ...] = (
    {"name": "Sales tax", "jurisdiction": "California", "country": "US", "region": "CA",
     "percentage": Decimal("7.25")},
    {"name": "VAT", "jurisdiction": "Germany", "country": "DE", "region": "", "percentage": Decimal("19")},
)
CUSTOMERS: dict[str, dict[str, Any]] = {
    "globex": {"billing_name": "Globex Corporation", "address_line1": "1 Globex Plaza", "city": "Cypress Creek",
               "region": "CA", "postal_code": "90210", "country": "US", "tax_id": "EIN 98-7654321",
               "billing_email": "ap@globex.example", "tax_status": "standard"},
    "initech": {"billing_name": "Initech GmbH", "address_line1": "Friedrichstraße 68", "city": "Berlin",
                "postal_code": "10117", "country": "DE", "tax_id": "DE811907980",
                "billing_email": "finance@initech.example", "tax_status": "reverse_charge"},
    "umbrella": {"billing_name": "Umbrella Corp", "address_line1": "545 Raccoon Way", "city": "Sacramento",
                 "region": "CA", "postal_code": "95814", "country": "US", "tax_status": "exempt",
                 "tax_exemption_reference": "CA resale certificate SR-AB-123456",
                 "billing_email": "billing@umbrella.example", "payment_terms_days": 15},
}


def _logo() -> bytes:
    """A small square mark in the portal's accent colour (drawn, so the demo ships no image file)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 96), (59, 91, 219))
    draw = ImageDraw.Draw(image)
    draw.polygon([(48, 16), (80, 80), (16, 80)], fill=(255, 255, 255))
    draw.polygon([(48, 44), (62, 72), (34, 72)], fill=(59, 91, 219))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def document_seed(*, organization: Organization, write: Write) -> None:
    billing_profile_update(organization=organization, **PROFILE)
    if not billing_profile_get(organization=organization).logo:
        billing_profile_logo_set(organization=organization, data=_logo())
    for rate in RATES:
        exists = TaxRate.objects.filter(organization=organization, name=rate["name"], country=rate["country"],
                                        region=rate["region"]).exists()
        if not exists:
            tax_rate_create(organization_id=organization.pk, **rate)
    for external_id, details in CUSTOMERS.items():
        customer_billing_update(customer=customer_get(organization=organization, external_id=external_id),
                                **details)
    write("Invoice documents: Acme AI's billing profile and logo; sales tax 7.25% (California) on Globex, "
          "Initech reverse charge (DE VAT id), Umbrella exempt on net 15.")


def document_report(*, organization: Organization, write: Write) -> None:
    """Print the page count of the demo's largest invoice PDF (a dry run of the streamed download)."""
    from django.db.models import Count

    from billing.audience import Audience
    from billing.invoice_pdf import invoice_pdf_stream
    from billing.models import Invoice
    from billing.selectors.document import invoice_document

    invoice = (Invoice.objects.filter(organization=organization).select_related("organization", "customer")
               .annotate(line_count=Count("lines")).order_by("-line_count", "pk").first())
    if invoice is None:
        return
    tree = b""  # the page tree's root, redefined with the total /Count, is the last chunk holding one
    for chunk in invoice_pdf_stream(invoice_document(invoice, audience=Audience.CUSTOMER)):
        if b"/Count " in chunk:
            tree = chunk
    pages = int(tree.rsplit(b"/Count ", 1)[1].split()[0]) if tree else 1
    write(f"Largest invoice: {invoice.number or 'draft'} of {invoice.customer.name}, "
          f"{invoice.line_count:,} lines, a {pages}-page PDF (summary on page 1, itemization after).")
