"""The vendor console in a real browser: the dashboard and its charts, an invoice's summary, the overdue
filter, and an invoice page at phone width (390 px) that never scrolls sideways.

Screenshots go to test-artifacts/screenshots/ (or PORTAL_SCREENSHOTS), kept as CI artifacts.
"""

import contextlib
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.portal.conftest import build_history
from tests.portal.test_browser import CHROMIUM, PASSWORD, chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def _screenshot(page: Any, name: str) -> Path:
    folder = Path(os.environ.get("PORTAL_SCREENSHOTS") or ARTIFACTS)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    return path


def _log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def history(transactional_db: None, vendor: Any, globex: Any) -> dict[str, Any]:
    """Three months for Acme and Globex; August and September finalized long enough ago to be overdue
    (Globex paid August), October a draft."""
    from billing.models import Invoice
    from billing.services.finalize import invoice_finalize
    from billing.services.payments import invoice_payment_record

    billed = build_history(vendor, globex, contextlib.nullcontext)
    now = timezone.now()
    for customer in ("acme", "globex"):
        invoice_finalize(invoice=billed.invoice(customer, "2026-08"), now=now - timedelta(days=80))
        invoice_finalize(invoice=billed.invoice(customer, "2026-09"), now=now - timedelta(days=40))
    august = Invoice.objects.get(customer=globex, period_start="2026-08-01")
    invoice_payment_record(invoice=august, amount=august.total, paid_at=now, source="manual", reference="aug")
    today = now.date()
    overdue = sorted(
        invoice.number or "" for invoice in Invoice.objects.filter(organization=vendor.organization)
        if invoice.is_overdue(today)
    )
    acme_september = Invoice.objects.get(customer=vendor.customer, period_start="2026-09-01")
    return {"overdue": overdue, "acme_september": acme_september.pk, "amount_due": acme_september.amount_due}


def test_vendor_reads_the_dashboard_and_filters_overdue_invoices(live_server, vendor, history) -> None:
    base = live_server.url
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
        _log_in(page, base, vendor.admin.username)
        # The console's home is the dashboard, with its two charts and the receivables.
        assert page.url.endswith("/dashboard/")
        page.goto(f"{base}/dashboard/?period=2026-09")
        assert page.locator("h1").inner_text().startswith("Dashboard")
        assert page.locator("svg.chart").count() == 2
        assert page.locator("#receivables [data-figure=receivable-overdue]").inner_text().endswith("USD")
        assert page.get_by_text("Cost to serve").count() >= 1
        assert _screenshot(page, "dashboard.png").stat().st_size > 20_000

        # From the dashboard to the overdue invoices, then the same filter by hand on the list.
        page.get_by_role("link", name="Overdue invoices").click()
        page.wait_for_load_state()
        numbers = sorted(page.locator("tbody tr td:first-child a").all_inner_texts())
        assert numbers == history["overdue"] and len(numbers) == 3
        assert page.locator("span.badge.overdue").count() == 3
        page.goto(f"{base}/invoices/")
        assert page.locator("tbody tr").count() == 6
        page.check("input[name=overdue]")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_load_state()
        assert sorted(page.locator("tbody tr td:first-child a").all_inner_texts()) == history["overdue"]
        _screenshot(page, "invoices-overdue.png")

        page.goto(f"{base}/aging/")
        assert page.locator("#aging tbody tr").count() == 2
        _screenshot(page, "aging.png")


def test_an_invoice_shows_its_summary_first_and_fits_a_phone(live_server, vendor, finance_user, history) -> None:
    base, invoice_id = live_server.url, history["acme_september"]
    with chromium() as browser:
        desktop = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
        _log_in(desktop, base, finance_user.username)
        desktop.goto(f"{base}/invoices/{invoice_id}/")
        summary = desktop.locator("table.doc-summary")
        assert summary.count() == 1
        # The summary comes before the itemization, and ends with the amount due.
        assert summary.locator("tr.summary-line").count() >= 1
        due = summary.locator("tr.amount-due").inner_text()
        assert f"{history['amount_due']:,.2f} USD" in due
        assert desktop.evaluate(
            "() => { const s = document.querySelector('table.doc-summary'); const rows ="
            " [...document.querySelectorAll('table')].filter(t => t !== s && t.innerText.includes('ticket-'));"
            " return rows.length > 0 && rows.every(t => s.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING); }"
        )
        _screenshot(desktop, "invoice-summary.png")

        phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                    is_mobile=True, has_touch=True).new_page()
        _log_in(phone, base, finance_user.username)
        phone.goto(f"{base}/invoices/{invoice_id}/")
        widths = phone.evaluate(
            "() => ({page: document.documentElement.scrollWidth, view: window.innerWidth,"
            " tables: [...document.querySelectorAll('table')].map(t => [t.scrollWidth, t.clientWidth,"
            " t.getBoundingClientRect().right])})"
        )
        assert widths["view"] == 390
        assert widths["page"] <= 390, widths  # no horizontal scroll of the page
        assert all(right <= 390 + 0.5 for _, _, right in widths["tables"]), widths  # every table within it
        assert any(scroll > client for scroll, client, _ in widths["tables"]), widths  # the wide ones scroll
        _screenshot(phone, "invoice-phone-390.png")
        for path in ("/invoices/", "/roi/"):
            phone.goto(f"{base}{path}")
            assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390, path
        vendor_phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        _log_in(vendor_phone, base, vendor.admin.username)
        for path in ("/dashboard/?period=2026-09", "/aging/", "/customers/", "/runs/"):
            vendor_phone.goto(f"{base}{path}")
            assert vendor_phone.evaluate("() => document.documentElement.scrollWidth") <= 390, path
        _screenshot(vendor_phone, "runs-phone-390.png")
        # The settings menu opens within the screen, and leads to its pages.
        vendor_phone.click("details.menu summary")
        box = vendor_phone.locator("details.menu .menu-items").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        vendor_phone.get_by_role("link", name="Audit log").click()
        vendor_phone.wait_for_load_state()
        assert vendor_phone.url.endswith("/settings/audit/")
        vendor_phone.goto(f"{base}/dashboard/?period=2026-09")
        _screenshot(vendor_phone, "dashboard-phone-390.png")
    assert Decimal(history["amount_due"]) > 0
