"""The invoice page in a real browser (Debian's chromium under Playwright): a customer's finance user
reads the summary, tax and amount due before the itemization, and at phone width (390 px) the page never
scrolls sideways. Screenshots are kept when PORTAL_SCREENSHOTS names a folder.
"""

import contextlib
from decimal import Decimal

import pytest

from accounts.models import BillingProfile, Customer
from billing.models import TaxRate
from billing.services.reconcile import customer_drafts_refresh
from tests.portal.conftest import build_history
from tests.portal.test_browser import CHROMIUM, _log_in, _screenshot, chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def test_the_invoice_summary_comes_first_and_fits_a_phone(
    transactional_db, live_server, vendor, globex, finance_user, tmp_path
) -> None:
    billed = build_history(vendor, globex, contextlib.nullcontext)
    BillingProfile.objects.create(organization=vendor.organization, legal_name="Vendor Labs GmbH",
                                  address_line1="Weg 1", city="Berlin", country="DE", tax_id="DE811111111",
                                  payment_instructions="IBAN DE00 1234 5678 9012 3456 78")
    Customer.objects.filter(pk=vendor.customer.pk).update(
        billing_name="Acme Corporation Europe GmbH", country="DE", address_line1="Sehr-lange-Straßenbezeichnung 123")
    TaxRate.objects.create(organization=vendor.organization, name="VAT", jurisdiction="Germany", country="DE",
                           percentage=Decimal("19"))
    customer_drafts_refresh(customer_id=vendor.customer.pk)
    invoice = billed.invoice("acme", "2026-10")
    url = f"{live_server.url}/invoices/{invoice.pk}/"

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _log_in(page, live_server.url, finance_user.username)
        page.goto(url)
        summary = page.locator("section.invoice-doc")
        assert summary.is_visible()
        text = summary.inner_text()
        assert "Vendor Labs GmbH" in text and "Acme Corporation Europe GmbH" in text and "Amount due" in text
        assert "VAT 19% (Germany)" in text
        box_summary = summary.bounding_box()
        box_items = page.locator("h2.itemization-title").bounding_box()
        assert box_summary is not None and box_items is not None and box_summary["y"] < box_items["y"]
        assert "Cost to serve" not in page.content()
        _screenshot(page, tmp_path, "invoice-document.png")

        phone = browser.new_page(viewport={"width": 390, "height": 844})
        _log_in(phone, live_server.url, finance_user.username)
        phone.goto(url)
        assert phone.locator("section.invoice-doc").is_visible()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width}px wide"
        _screenshot(phone, tmp_path, "invoice-document-phone.png")
